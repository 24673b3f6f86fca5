//! The key a reviewer signs with: a private key file (as `ssh-keygen -Y
//! sign -f KEY`), or a key held by ssh-agent (`--sign agent`, or a `.pub`
//! file naming which), so passphrase-protected and hardware keys work.

use super::agent::{Agent, AgentError};
use super::payload::NAMESPACE;
use crate::error::{Error, Kind, Result};
use ssh_key::public::KeyData;
use ssh_key::{HashAlg, PrivateKey, PublicKey, SshSig};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// What `--sign` named.
#[derive(Debug, Clone, PartialEq)]
pub enum SignWith {
    /// A private key file.
    File(PathBuf),
    /// ssh-agent; with the public key of the one to use, or whichever key
    /// the agent holds that allowed_signers knows.
    Agent(Option<PathBuf>),
}

impl SignWith {
    /// `agent`, a `.pub` file, or a private key file.
    pub fn parse(arg: &str) -> SignWith {
        if arg == "agent" {
            return SignWith::Agent(None);
        }
        let path = PathBuf::from(arg);
        if path.extension().is_some_and(|e| e == "pub") {
            SignWith::Agent(Some(path))
        } else {
            SignWith::File(path)
        }
    }
}

/// A key ready to sign.
pub enum Key {
    File(Box<PrivateKey>),
    Agent(Agent, KeyData),
}

impl Key {
    pub fn public(&self) -> &KeyData {
        match self {
            Key::File(k) => k.public_key().key_data(),
            Key::Agent(_, k) => k,
        }
    }

    /// Signs `message` in ladder's namespace, as `ssh-keygen -Y sign` does
    /// (SHA-512).
    pub fn sign(&mut self, message: &[u8]) -> Result<SshSig> {
        match self {
            Key::File(k) => k
                .sign(NAMESPACE, HashAlg::Sha512, message)
                .map_err(|e| Error::new(Kind::Error, format!("cannot sign: {e}"))),
            Key::Agent(agent, public) => {
                let data = SshSig::signed_data(NAMESPACE, HashAlg::Sha512, message)
                    .map_err(|e| Error::new(Kind::Error, format!("cannot sign: {e}")))?;
                let sig = agent.sign(public, &data).map_err(agent_error)?;
                SshSig::new(public.clone(), NAMESPACE, HashAlg::Sha512, sig)
                    .map_err(|e| Error::new(Kind::Error, format!("ssh-agent's signature: {e}")))
            }
        }
    }
}

/// The largest key file read.
const MAX_KEY_BYTES: u64 = 64 << 10;

/// Opens what `--sign` named. `candidates` tells which of the agent's keys
/// are worth using (those allowed_signers knows) when none was named.
pub fn open(with: &SignWith, candidates: &dyn Fn(&KeyData) -> bool) -> Result<Key> {
    match with {
        SignWith::File(path) => {
            let text = read_key_file(path)?;
            if let Ok(public) = PublicKey::from_openssh(text.trim()) {
                // A public key given without `.pub`: the agent holds its half.
                return agent_key(Some(public.key_data().clone()), candidates);
            }
            let key = PrivateKey::from_openssh(text.as_bytes()).map_err(|_| {
                Error::usage(format!("{} is not an OpenSSH private key", path.display()))
                    .with_hint("pass a key made by ssh-keygen, or `--sign agent`")
            })?;
            private_key(path, key)
        }
        SignWith::Agent(Some(path)) => {
            let text = read_key_file(path)?;
            let public = PublicKey::from_openssh(text.trim()).map_err(|_| {
                Error::usage(format!("{} is not an OpenSSH public key", path.display()))
            })?;
            agent_key(Some(public.key_data().clone()), candidates)
        }
        SignWith::Agent(None) => agent_key(None, candidates),
    }
}

fn read_key_file(path: &Path) -> Result<String> {
    use std::io::Read as _;
    let cannot = |why: String| Error::usage(format!("cannot read key {}: {why}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| cannot(e.to_string()))?;
    let meta = file.metadata().map_err(|e| cannot(e.to_string()))?;
    if !meta.is_file() {
        return Err(cannot("not a regular file".into()));
    }
    let mut text = String::new();
    file.take(MAX_KEY_BYTES)
        .read_to_string(&mut text)
        .map_err(|_| cannot("not a key file".into()))?;
    Ok(text)
}

fn private_key(path: &Path, key: PrivateKey) -> Result<Key> {
    let public = key.public_key().key_data();
    if public.is_sk_ed25519() || public.is_sk_ecdsa_p256() {
        return Err(Error::usage(format!(
            "{} is a hardware key: it signs through ssh-agent",
            path.display()
        ))
        .with_hint(format!(
            "run `ssh-add {}`, then pass `--sign {}.pub` or `--sign agent`",
            path.display(),
            path.display()
        )));
    }
    if !key.is_encrypted() {
        return Ok(Key::File(Box::new(key)));
    }
    let passphrase = ask_passphrase(path)?;
    let key = key.decrypt(passphrase.as_bytes()).map_err(|_| {
        Error::usage(format!("wrong passphrase for {}", path.display()))
            .with_hint("nothing was signed or recorded")
    })?;
    Ok(Key::File(Box::new(key)))
}

/// Asks for a key's passphrase as OpenSSH does: through `SSH_ASKPASS` when
/// `SSH_ASKPASS_REQUIRE=force`, or when there is no terminal and
/// `SSH_ASKPASS` is set; else on the terminal, never echoed.
fn ask_passphrase(path: &Path) -> Result<Zeroizing<String>> {
    let prompt = format!("Enter passphrase for {}: ", path.display());
    let askpass = std::env::var_os("SSH_ASKPASS").filter(|a| !a.is_empty());
    let require = std::env::var("SSH_ASKPASS_REQUIRE").unwrap_or_default();
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .is_ok();
    match askpass {
        Some(program) if require == "force" || (!tty && require != "never") => {
            let out = std::process::Command::new(&program)
                .arg(&prompt)
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::inherit())
                .output()
                .map_err(|e| {
                    Error::usage(format!(
                        "cannot run SSH_ASKPASS {}: {e}",
                        Path::new(&program).display()
                    ))
                })?;
            if !out.status.success() {
                return Err(Error::usage(format!(
                    "no passphrase for {}: SSH_ASKPASS was cancelled",
                    path.display()
                )));
            }
            let text = Zeroizing::new(String::from_utf8_lossy(&out.stdout).into_owned());
            Ok(Zeroizing::new(
                text.trim_end_matches(['\n', '\r']).to_string(),
            ))
        }
        _ if tty => rpassword::prompt_password(&prompt)
            .map(Zeroizing::new)
            .map_err(|e| Error::usage(format!("cannot read the passphrase: {e}"))),
        _ => Err(Error::usage(format!(
            "{} is protected by a passphrase and there is no terminal to ask on",
            path.display()
        ))
        .with_hint("add the key to ssh-agent (`ssh-add`) and pass `--sign agent`")),
    }
}

/// A key in ssh-agent: the one named, or the only one allowed_signers
/// knows.
fn agent_key(named: Option<KeyData>, candidates: &dyn Fn(&KeyData) -> bool) -> Result<Key> {
    let mut agent = Agent::from_env().map_err(agent_error)?;
    if let Some(key) = named {
        return Ok(Key::Agent(agent, key));
    }
    let keys: Vec<KeyData> = agent
        .identities()
        .map_err(agent_error)?
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| candidates(k))
        .collect();
    match keys.as_slice() {
        [one] => {
            let one = one.clone();
            Ok(Key::Agent(agent, one))
        }
        [] => Err(Error::new(
            Kind::NotAllowed,
            "no key in ssh-agent is in the policy's allowed_signers",
        )
        .with_hint("add your key with `ssh-add`, or ask for it to be listed in allowed_signers")),
        many => {
            let prints: Vec<String> = many
                .iter()
                .map(|k| {
                    PublicKey::from(k.clone())
                        .fingerprint(HashAlg::Sha256)
                        .to_string()
                })
                .collect();
            Err(Error::usage(format!(
                "ssh-agent holds {} keys allowed_signers knows ({})",
                many.len(),
                prints.join(", ")
            ))
            .with_hint("choose one with `--sign KEY.pub`"))
        }
    }
}

fn agent_error(e: AgentError) -> Error {
    match e {
        AgentError::Refused => Error::new(Kind::NotAllowed, format!("{e}")),
        _ => Error::usage(e.to_string()),
    }
}
