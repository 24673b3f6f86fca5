//! A small, synchronous ssh-agent client: list the keys, sign with one.
//!
//! The protocol is draft-miller-ssh-agent: every message is a `uint32`
//! length, a type byte and a body in SSH wire encoding. Only two requests
//! are needed here (REQUEST_IDENTITIES and SIGN_REQUEST), so this speaks
//! them directly over a `UnixStream` rather than pulling in an agent crate
//! and an async runtime for a few dozen bytes.
//!
//! Everything the agent sends is treated as untrusted input: answers are
//! bounded in length, every length inside one is checked against what is
//! left before it is used, and a malformed answer is an error, never a
//! panic. Keys and signatures are handed to ssh-key's own parsers
//! (`PublicKey::from_bytes`, `Signature::try_from`), which know every key
//! type's layout; ssh-key 0.6 does not export its wire-encoding traits, so
//! the framing around them (a `uint32`, a length-prefixed string) is done
//! here, in `Wire` and `put_string`.
//!
//! A read that timed out, or an answer too long to read, leaves the stream
//! at an unknown point of the conversation; the connection then refuses
//! further requests rather than take a late answer for the answer to the
//! next question.

use ssh_key::public::KeyData;
use ssh_key::{Algorithm, HashAlg, PublicKey, Signature};
use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Message numbers from draft-miller-ssh-agent.
const SSH_AGENT_FAILURE: u8 = 5;
const SSH_AGENTC_REQUEST_IDENTITIES: u8 = 11;
const SSH_AGENT_IDENTITIES_ANSWER: u8 = 12;
const SSH_AGENTC_SIGN_REQUEST: u8 = 13;
const SSH_AGENT_SIGN_RESPONSE: u8 = 14;
/// Older failure codes that OpenSSH's own client (`authfd.c`) still treats
/// as a refusal; an agent that answers with them means "no", not "garbage".
const SSH2_AGENT_FAILURE: u8 = 30;
const SSH_COM_AGENT2_FAILURE: u8 = 102;

/// Sign-request flag: an RSA key signs with rsa-sha2-512, not SHA-1
/// `ssh-rsa`, which OpenSSH no longer accepts.
const SSH_AGENT_RSA_SHA2_512: u32 = 4;

/// The longest message either side may send. It is OpenSSH's own limit
/// (`AGENT_MAX_LEN`), so no real agent is cut off by it, and it stops a
/// broken or hostile agent from making us allocate whatever a `uint32`
/// length says.
const MAX_MESSAGE_LEN: usize = 256 * 1024;

/// How long to wait for the key list. The agent answers from memory, so a
/// few seconds means it is wedged, and the caller should hear so.
const IDENTITIES_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to wait for a signature. A hardware key (FIDO `sk-` keys, a
/// smartcard behind the agent) or a key added with `ssh-add -c` holds the
/// answer until someone touches or confirms; the person may first have to
/// find the key or read the prompt. A minute covers that; longer only keeps
/// a forgotten command hanging.
const SIGN_TIMEOUT: Duration = Duration::from_secs(60);

/// Why talking to the agent failed.
#[derive(Debug)]
pub enum AgentError {
    /// SSH_AUTH_SOCK unset or empty.
    NoAgent,
    /// Could not connect / read / write (the socket path and the io error).
    Io(String),
    /// The agent answered SSH_AGENT_FAILURE (refused, or the hardware key
    /// was not touched in time).
    Refused,
    /// The agent does not hold this key.
    KeyNotInAgent,
    /// The answer did not parse.
    Protocol(String),
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::NoAgent => {
                write!(f, "ssh-agent is not running (SSH_AUTH_SOCK is not set)")
            }
            AgentError::Io(what) => write!(f, "cannot talk to ssh-agent at {what}"),
            AgentError::Refused => write!(
                f,
                "ssh-agent refused to sign (declined, or the key was not touched or confirmed in time)"
            ),
            AgentError::KeyNotInAgent => write!(
                f,
                "ssh-agent does not hold this key (add it with ssh-add; a locked agent lists no keys)"
            ),
            AgentError::Protocol(what) => write!(f, "ssh-agent sent an unreadable answer: {what}"),
        }
    }
}

impl std::error::Error for AgentError {}

/// A connection to one ssh-agent.
#[derive(Debug)]
pub struct Agent {
    stream: UnixStream,
    /// Kept for error messages: "which agent?" is the first question.
    path: PathBuf,
    /// Set while a request is in flight and left set if it failed half-way:
    /// the stream is then at an unknown point and must not be reused.
    desynchronised: bool,
}

/// One key as the agent lists it: the raw blob (what a sign request must
/// name, byte for byte) and its comment.
struct RawIdentity {
    blob: Vec<u8>,
    comment: String,
}

impl Agent {
    /// Connects to $SSH_AUTH_SOCK.
    pub fn from_env() -> Result<Agent, AgentError> {
        let path = socket_path(std::env::var_os("SSH_AUTH_SOCK"))?;
        Agent::connect(&path)
    }

    /// Connects to the agent listening on `path`.
    pub fn connect(path: &Path) -> Result<Agent, AgentError> {
        let stream = UnixStream::connect(path).map_err(|e| io_error(path, "cannot connect", &e))?;
        Ok(Agent {
            stream,
            path: path.to_path_buf(),
            desynchronised: false,
        })
    }

    /// The keys the agent holds, with their comments.
    ///
    /// A key whose blob this build cannot read (a certificate, or a type such
    /// as `ssh-dss` that ssh-key is built without) is left out rather than
    /// failing the whole list: agents routinely hold such entries next to the
    /// keys that matter.
    pub fn identities(&mut self) -> Result<Vec<(KeyData, String)>, AgentError> {
        let raw = self.raw_identities()?;
        Ok(raw
            .into_iter()
            .filter_map(|id| parse_key_blob(&id.blob).map(|key| (key, id.comment)))
            .collect())
    }

    /// Signs `data` with `key`, asking for rsa-sha2-512 on RSA keys.
    ///
    /// Checks first that the agent holds the key, so that "add the key" and
    /// "the agent said no" are told apart: an agent answers both with the
    /// same SSH_AGENT_FAILURE.
    pub fn sign(&mut self, key: &KeyData, data: &[u8]) -> Result<Signature, AgentError> {
        let blob = encode_key(key)?;
        if !self.raw_identities()?.iter().any(|id| id.blob == blob) {
            return Err(AgentError::KeyNotInAgent);
        }
        self.sign_blob(key, &blob, data)
    }

    /// The sign request proper, without the membership check.
    fn sign_blob(
        &mut self,
        key: &KeyData,
        blob: &[u8],
        data: &[u8],
    ) -> Result<Signature, AgentError> {
        let request = sign_request(blob, data, sign_flags(key))?;
        let answer = self.request(&request, SIGN_TIMEOUT)?;
        parse_sign_response(&answer, key)
    }

    fn raw_identities(&mut self) -> Result<Vec<RawIdentity>, AgentError> {
        let answer = self.request(&[SSH_AGENTC_REQUEST_IDENTITIES], IDENTITIES_TIMEOUT)?;
        parse_identities_answer(&answer)
    }

    /// Sends one message and reads one answer, within `timeout` each way.
    fn request(&mut self, message: &[u8], timeout: Duration) -> Result<Vec<u8>, AgentError> {
        if self.desynchronised {
            return Err(AgentError::Io(format!(
                "{}: an earlier request failed half-way; connect again",
                self.path.display()
            )));
        }
        self.desynchronised = true;
        let answer = self.exchange(message, timeout)?;
        self.desynchronised = false;
        Ok(answer)
    }

    fn exchange(&mut self, message: &[u8], timeout: Duration) -> Result<Vec<u8>, AgentError> {
        let path = self.path.clone();
        let fail = |doing: &str, e: io::Error| match e.kind() {
            // A socket read timeout surfaces as WouldBlock on Unix.
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => AgentError::Io(format!(
                "{}: no answer within {} s",
                path.display(),
                timeout.as_secs_f32()
            )),
            io::ErrorKind::UnexpectedEof => AgentError::Io(format!(
                "{}: the agent closed the connection",
                path.display()
            )),
            _ => io_error(&path, doing, &e),
        };
        self.stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| self.stream.set_write_timeout(Some(timeout)))
            .map_err(|e| fail("cannot set a timeout", e))?;
        self.stream
            .write_all(&frame(message)?)
            .map_err(|e| fail("cannot send", e))?;
        let mut header = [0u8; 4];
        self.stream
            .read_exact(&mut header)
            .map_err(|e| fail("cannot read", e))?;
        let len = answer_len(header)?;
        let mut answer = vec![0u8; len];
        self.stream
            .read_exact(&mut answer)
            .map_err(|e| fail("cannot read", e))?;
        Ok(answer)
    }
}

/// The agent's socket from the value of SSH_AUTH_SOCK; apart from
/// `from_env` so that it can be tested without touching the process
/// environment, which tests running in parallel share.
fn socket_path(value: Option<OsString>) -> Result<PathBuf, AgentError> {
    match value {
        Some(v) if !v.is_empty() => Ok(PathBuf::from(v)),
        _ => Err(AgentError::NoAgent),
    }
}

fn io_error(path: &Path, doing: &str, e: &io::Error) -> AgentError {
    AgentError::Io(format!("{}: {doing}: {e}", path.display()))
}

/// `message` with its `uint32` length in front; refused past the agent's
/// limit, since an agent closes the connection on a longer one.
fn frame(message: &[u8]) -> Result<Vec<u8>, AgentError> {
    let len = u32::try_from(message.len())
        .ok()
        .filter(|&n| n as usize <= MAX_MESSAGE_LEN)
        .ok_or_else(|| {
            AgentError::Protocol(format!(
                "a request of {} bytes exceeds the agent's limit of {MAX_MESSAGE_LEN}",
                message.len()
            ))
        })?;
    let mut framed = Vec::with_capacity(4 + message.len());
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    Ok(framed)
}

/// The announced length of an answer, checked before anything is allocated.
fn answer_len(header: [u8; 4]) -> Result<usize, AgentError> {
    match u32::from_be_bytes(header) as usize {
        0 => Err(AgentError::Protocol("an empty message".into())),
        n if n > MAX_MESSAGE_LEN => Err(AgentError::Protocol(format!(
            "a message of {n} bytes, over the {MAX_MESSAGE_LEN}-byte limit"
        ))),
        n => Ok(n),
    }
}

fn protocol(what: &str, e: impl fmt::Display) -> AgentError {
    AgentError::Protocol(format!("{what}: {e}"))
}

/// The wire blob the agent knows the key by.
fn encode_key(key: &KeyData) -> Result<Vec<u8>, AgentError> {
    PublicKey::from(key.clone())
        .to_bytes()
        .map_err(|e| protocol("cannot encode the key", e))
}

/// RSA keys get rsa-sha2-512; the other types have one signature algorithm
/// each and take no flags.
fn sign_flags(key: &KeyData) -> u32 {
    if key.is_rsa() {
        SSH_AGENT_RSA_SHA2_512
    } else {
        0
    }
}

/// SSH_AGENTC_SIGN_REQUEST: byte 13, string key blob, string data, uint32
/// flags.
fn sign_request(blob: &[u8], data: &[u8], flags: u32) -> Result<Vec<u8>, AgentError> {
    let mut message = vec![SSH_AGENTC_SIGN_REQUEST];
    put_string(&mut message, blob)?;
    put_string(&mut message, data)?;
    message.extend_from_slice(&flags.to_be_bytes());
    Ok(message)
}

/// Appends an SSH `string`: `uint32` length, then the bytes.
fn put_string(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), AgentError> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| AgentError::Protocol(format!("a string of {} bytes", bytes.len())))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// A cursor over an answer's body. Each read checks the length it needs
/// against what is left and borrows rather than allocates, so a lying
/// length costs an error, not memory.
struct Wire<'a>(&'a [u8]);

impl<'a> Wire<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], AgentError> {
        if n > self.0.len() {
            return Err(AgentError::Protocol(format!(
                "the {what} needs {n} bytes, {} are left",
                self.0.len()
            )));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self, what: &str) -> Result<u32, AgentError> {
        let bytes = self.take(4, what)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn string(&mut self, what: &str) -> Result<&'a [u8], AgentError> {
        let len = self.u32(what)? as usize;
        self.take(len, what)
    }

    fn finish(&self, what: &str) -> Result<(), AgentError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AgentError::Protocol(format!(
                "{} unexpected bytes after the {what}",
                self.0.len()
            )))
        }
    }
}

/// Splits off the type byte; a failure code becomes `Refused` here, once,
/// for every request.
fn message_type(answer: &[u8]) -> Result<(u8, &[u8]), AgentError> {
    match answer.split_first() {
        Some((&(SSH_AGENT_FAILURE | SSH2_AGENT_FAILURE | SSH_COM_AGENT2_FAILURE), _)) => {
            Err(AgentError::Refused)
        }
        Some((&kind, body)) => Ok((kind, body)),
        None => Err(AgentError::Protocol("an empty message".into())),
    }
}

fn expect_type(answer: &[u8], expected: u8) -> Result<&[u8], AgentError> {
    let (kind, body) = message_type(answer)?;
    if kind == expected {
        Ok(body)
    } else {
        Err(AgentError::Protocol(format!(
            "expected message type {expected}, got {kind}"
        )))
    }
}

/// SSH_AGENT_IDENTITIES_ANSWER: byte 12, uint32 count, then count times
/// (string key blob, string comment).
fn parse_identities_answer(answer: &[u8]) -> Result<Vec<RawIdentity>, AgentError> {
    let mut body = Wire(expect_type(answer, SSH_AGENT_IDENTITIES_ANSWER)?);
    let count = body.u32("key count")?;
    // Each entry takes at least 8 bytes (two empty strings): a count the
    // body cannot hold fails below, and never sizes an allocation.
    let mut identities = Vec::with_capacity((count as usize).min(body.0.len() / 8));
    for _ in 0..count {
        let blob = body.string("key blob")?.to_vec();
        // OpenSSH comments are bytes, usually a file name or user@host;
        // a stray byte must not cost the whole list.
        let comment = String::from_utf8_lossy(body.string("key comment")?).into_owned();
        identities.push(RawIdentity { blob, comment });
    }
    body.finish("identities answer")?;
    Ok(identities)
}

/// A key blob as `KeyData`, or `None` if this build cannot read it.
fn parse_key_blob(blob: &[u8]) -> Option<KeyData> {
    PublicKey::from_bytes(blob)
        .ok()
        .map(|key| key.key_data().clone())
}

/// SSH_AGENT_SIGN_RESPONSE: byte 14, string signature blob.
fn parse_sign_response(answer: &[u8], key: &KeyData) -> Result<Signature, AgentError> {
    let mut body = Wire(expect_type(answer, SSH_AGENT_SIGN_RESPONSE)?);
    let blob = body.string("signature blob")?;
    body.finish("sign response")?;
    let signature = parse_signature_blob(blob)?;
    check_algorithm(key, &signature)?;
    Ok(signature)
}

/// The signature blob: string algorithm, string signature, and for `sk-`
/// keys a flags byte and a `uint32` counter after the string. ssh-key's own
/// decoder (`Signature::try_from`) reads that layout and keeps flags and
/// counter at the end of the signature's data, where its `sk-` verifier
/// looks for them; it does not check that the blob ends there, so the
/// layout is walked here first.
fn parse_signature_blob(blob: &[u8]) -> Result<Signature, AgentError> {
    let mut wire = Wire(blob);
    let algorithm = wire.string("signature algorithm")?;
    wire.string("signature")?;
    if algorithm.starts_with(b"sk-") {
        wire.take(5, "security-key flags and counter")?;
    }
    wire.finish("signature blob")?;
    Signature::try_from(blob).map_err(|e| protocol("signature", e))
}

/// An agent that ignores the rsa-sha2-512 flag answers with SHA-1 `ssh-rsa`
/// (ssh-key refuses that one already); any other mismatch means the agent
/// signed with something other than what was asked.
fn check_algorithm(key: &KeyData, signature: &Signature) -> Result<(), AgentError> {
    let expected = match key.algorithm() {
        Algorithm::Rsa { .. } => Algorithm::Rsa {
            hash: Some(HashAlg::Sha512),
        },
        other => other,
    };
    if signature.algorithm() == expected {
        Ok(())
    } else {
        Err(AgentError::Protocol(format!(
            "asked for a {expected} signature, got {}",
            signature.algorithm()
        )))
    }
}

#[cfg(test)]
mod tests {
    //! Against a real `ssh-agent`, one per test in its own temporary
    //! directory, fed with keys from the real `ssh-keygen`, and signatures
    //! checked by the real `ssh-keygen -Y check-novalidate` as well as by
    //! ssh-key. Where an agent cannot be made to misbehave (oversized or
    //! truncated answers, an agent that never answers), the other end of a
    //! socket pair plays it.

    use super::*;
    use ssh_key::private::{EcdsaKeypair, Ed25519Keypair};
    use ssh_key::public::{EcdsaPublicKey, SkEcdsaSha2NistP256, SkEd25519};
    use ssh_key::{EcdsaCurve, LineEnding, PrivateKey, SigningKey, SshSig};
    use std::process::{Child, Command, Stdio};
    use std::time::Instant;
    use tempfile::TempDir;

    const NAMESPACE: &str = "ladder-test";

    /// The OpenSSH tools the tests drive; missing ones skip the test.
    fn tools_missing() -> bool {
        let missing: Vec<_> = ["ssh-agent", "ssh-add", "ssh-keygen"]
            .into_iter()
            .filter(|tool| !on_path(tool))
            .collect();
        if !missing.is_empty() {
            eprintln!("skipped: {} not installed", missing.join(", "));
        }
        !missing.is_empty()
    }

    fn on_path(tool: &str) -> bool {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
    }

    /// A running `ssh-agent -D`, killed when dropped.
    struct TestAgent {
        child: Child,
        dir: TempDir,
        sock: PathBuf,
    }

    impl Drop for TestAgent {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl TestAgent {
        /// Starts an agent with `env` added to its environment (the agent
        /// runs SSH_ASKPASS itself to confirm an `ssh-add -c` key).
        fn start(env: &[(&str, &str)]) -> TestAgent {
            let dir = tempfile::tempdir().unwrap();
            let sock = dir.path().join("sock");
            let child = Command::new("ssh-agent")
                .arg("-D")
                .arg("-a")
                .arg(&sock)
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let agent = TestAgent { child, dir, sock };
            agent.wait_for_socket();
            agent
        }

        fn wait_for_socket(&self) {
            let deadline = Instant::now() + Duration::from_secs(10);
            while UnixStream::connect(&self.sock).is_err() {
                assert!(Instant::now() < deadline, "ssh-agent did not start");
                std::thread::sleep(Duration::from_millis(10));
            }
        }

        fn connect(&self) -> Agent {
            Agent::connect(&self.sock).unwrap()
        }

        /// Generates a key with ssh-keygen; returns its private key path
        /// and public key.
        fn keygen(&self, name: &str, args: &[&str]) -> (PathBuf, KeyData) {
            let path = self.dir.path().join(name);
            let status = Command::new("ssh-keygen")
                .args(args)
                .args(["-N", "", "-q", "-C", &format!("comment {name}"), "-f"])
                .arg(&path)
                .stdin(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "ssh-keygen {args:?}");
            let public = PublicKey::read_openssh_file(&path.with_extension("pub")).unwrap();
            (path, public.key_data().clone())
        }

        /// Runs ssh-add against this agent only: SSH_AUTH_SOCK is set on
        /// the child, never on the test process.
        fn ssh_add(&self, args: &[&str], env: &[(&str, &str)]) {
            let out = Command::new("ssh-add")
                .args(args)
                .env("SSH_AUTH_SOCK", &self.sock)
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "ssh-add {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }

        fn add(&self, key: &Path) {
            self.ssh_add(&[key.to_str().unwrap()], &[]);
        }
    }

    /// A script for SSH_ASKPASS in `dir` that prints `answer` and exits
    /// with `code`, and the environment that makes OpenSSH use it with no
    /// terminal and no X server (DISPLAY only has to be set).
    fn askpass(dir: &Path, answer: &str, code: i32) -> Vec<(&'static str, String)> {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join(format!("askpass-{code}"));
        std::fs::write(&path, format!("#!/bin/sh\necho '{answer}'\nexit {code}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        vec![
            ("SSH_ASKPASS", path.to_str().unwrap().to_string()),
            ("SSH_ASKPASS_REQUIRE", "force".to_string()),
            ("DISPLAY", ":0".to_string()),
        ]
    }

    fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        env.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    /// The full SSHSIG round: signed data, agent signature, PEM, then
    /// verification by ssh-key and by `ssh-keygen -Y check-novalidate`.
    fn assert_sshsig_verifies(agent: &mut Agent, key: &KeyData, dir: &Path) {
        let msg = format!("a message for {}", key.algorithm());
        let data = SshSig::signed_data(NAMESPACE, HashAlg::Sha512, msg.as_bytes()).unwrap();
        let signature = agent.sign(key, &data).unwrap();
        let sshsig = SshSig::new(key.clone(), NAMESPACE, HashAlg::Sha512, signature).unwrap();
        let pem = sshsig.to_pem(LineEnding::LF).unwrap();
        PublicKey::from(key.clone())
            .verify(NAMESPACE, msg.as_bytes(), &SshSig::from_pem(&pem).unwrap())
            .unwrap();
        assert_ssh_keygen_accepts(&pem, &msg, dir);
    }

    fn assert_ssh_keygen_accepts(pem: &str, msg: &str, dir: &Path) {
        let sig_file = dir.join("msg.sig");
        std::fs::write(&sig_file, pem).unwrap();
        let mut child = Command::new("ssh-keygen")
            .args(["-Y", "check-novalidate", "-n", NAMESPACE, "-s"])
            .arg(&sig_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(msg.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "ssh-keygen -Y check-novalidate: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn ssh_auth_sock_unset_or_empty_is_no_agent() {
        assert!(matches!(socket_path(None), Err(AgentError::NoAgent)));
        assert!(matches!(
            socket_path(Some(OsString::new())),
            Err(AgentError::NoAgent)
        ));
        assert_eq!(
            socket_path(Some("/run/agent.sock".into())).unwrap(),
            PathBuf::from("/run/agent.sock")
        );
        assert_eq!(
            AgentError::NoAgent.to_string(),
            "ssh-agent is not running (SSH_AUTH_SOCK is not set)"
        );
    }

    #[test]
    fn a_socket_that_does_not_exist_is_an_io_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-sock");
        let err = Agent::connect(&path).unwrap_err();
        let AgentError::Io(what) = &err else {
            panic!("{err:?}");
        };
        assert!(what.contains(path.to_str().unwrap()), "{what}");
        assert!(what.contains("No such file or directory"), "{what}");
        assert!(
            err.to_string().starts_with("cannot talk to ssh-agent at "),
            "{err}"
        );
    }

    #[test]
    fn identities_lists_the_keys_with_their_comments() {
        if tools_missing() {
            return;
        }
        let test = TestAgent::start(&[]);
        let mut agent = test.connect();
        assert!(agent.identities().unwrap().is_empty());

        let keys = [
            test.keygen("ed", &["-t", "ed25519"]),
            test.keygen("ec", &["-t", "ecdsa", "-b", "256"]),
            test.keygen("rsa", &["-t", "rsa", "-b", "2048"]),
        ];
        // A certificate next to the ed25519 key: ssh-add loads both, and
        // the agent lists both; the certificate is not a plain key and is
        // left out.
        let (ca, _) = test.keygen("ca", &["-t", "ed25519"]);
        let status = Command::new("ssh-keygen")
            .args(["-q", "-s", ca.to_str().unwrap(), "-I", "id", "-n", "user"])
            .arg(keys[0].0.with_extension("pub"))
            .status()
            .unwrap();
        assert!(status.success());
        for (path, _) in &keys {
            test.add(path);
        }
        assert_eq!(agent.raw_identities().unwrap().len(), 4);
        let listed = agent.identities().unwrap();
        assert_eq!(listed.len(), 3, "{listed:?}");
        for ((_, key), name) in keys.iter().zip(["ed", "ec", "rsa"]) {
            let comment = format!("comment {name}");
            assert!(
                listed.iter().any(|(k, c)| k == key && *c == comment),
                "{name} missing from {listed:?}"
            );
        }
    }

    #[test]
    fn signatures_from_every_key_type_verify_with_ssh_keygen_and_ssh_key() {
        if tools_missing() {
            return;
        }
        let test = TestAgent::start(&[]);
        let keys = [
            test.keygen("ed", &["-t", "ed25519"]),
            test.keygen("ec256", &["-t", "ecdsa", "-b", "256"]),
            test.keygen("ec384", &["-t", "ecdsa", "-b", "384"]),
            test.keygen("rsa", &["-t", "rsa", "-b", "2048"]),
        ];
        for (path, _) in &keys {
            test.add(path);
        }
        let mut agent = test.connect();
        for (_, key) in &keys {
            assert_sshsig_verifies(&mut agent, key, test.dir.path());
        }
        let (_, rsa) = &keys[3];
        let signature = agent.sign(rsa, b"data").unwrap();
        assert_eq!(signature.algorithm().as_str(), "rsa-sha2-512");
    }

    #[test]
    fn a_key_the_agent_does_not_hold_is_key_not_in_agent() {
        if tools_missing() {
            return;
        }
        let test = TestAgent::start(&[]);
        let (held, _) = test.keygen("held", &["-t", "ed25519"]);
        test.add(&held);
        let (_, other) = test.keygen("other", &["-t", "ed25519"]);
        let err = test.connect().sign(&other, b"data").unwrap_err();
        assert!(matches!(err, AgentError::KeyNotInAgent), "{err:?}");
    }

    /// OpenSSH's locked agent lists no keys at all, so `sign` says
    /// KeyNotInAgent (its message mentions the lock); the sign request
    /// itself, sent regardless, is refused.
    #[test]
    fn a_locked_agent_lists_nothing_and_refuses_to_sign() {
        if tools_missing() {
            return;
        }
        let test = TestAgent::start(&[]);
        let (path, key) = test.keygen("ed", &["-t", "ed25519"]);
        test.add(&path);
        let env = askpass(test.dir.path(), "lock password", 0);
        test.ssh_add(&["-x"], &env_refs(&env));
        let mut agent = test.connect();
        assert!(agent.identities().unwrap().is_empty());
        let err = agent.sign(&key, b"data").unwrap_err();
        assert!(matches!(err, AgentError::KeyNotInAgent), "{err:?}");
        let blob = encode_key(&key).unwrap();
        let err = agent.sign_blob(&key, &blob, b"data").unwrap_err();
        assert!(matches!(err, AgentError::Refused), "{err:?}");
    }

    /// A key added with `ssh-add -c` waits for a confirmation, as a hardware
    /// key waits for a touch; declined, the agent answers SSH_AGENT_FAILURE,
    /// and the connection stays usable. Confirmed, the same key signs: the
    /// refusal is the decline, not the setup.
    #[test]
    fn a_declined_confirmation_is_refused() {
        if tools_missing() {
            return;
        }
        for (answer, code, signs) in [("", 1, false), ("yes", 0, true)] {
            let scripts = tempfile::tempdir().unwrap();
            let env = askpass(scripts.path(), answer, code);
            let test = TestAgent::start(&env_refs(&env));
            let (path, key) = test.keygen("ed", &["-t", "ed25519"]);
            test.ssh_add(&["-c", path.to_str().unwrap()], &[]);
            let mut agent = test.connect();
            match agent.sign(&key, b"data") {
                Ok(_) if signs => {}
                Err(AgentError::Refused) if !signs => {}
                other => panic!("askpass exiting {code}: {other:?}"),
            }
            assert_eq!(agent.identities().unwrap().len(), 1);
        }
    }

    /// What an agent holding a FIDO key answers: string algorithm, string
    /// signature, then the flags byte and counter outside the string.
    fn sk_response(algorithm: &str, raw: &[u8], flags: u8, counter: u32) -> Vec<u8> {
        let mut blob = Vec::new();
        put_string(&mut blob, algorithm.as_bytes()).unwrap();
        put_string(&mut blob, raw).unwrap();
        blob.push(flags);
        blob.extend(counter.to_be_bytes());
        let mut answer = vec![SSH_AGENT_SIGN_RESPONSE];
        put_string(&mut answer, &blob).unwrap();
        answer
    }

    /// What the authenticator signs for an `sk-` key: SHA-256 of the
    /// application, flags, counter, SHA-256 of the data.
    fn sk_signed_data(application: &str, flags: u8, counter: u32, data: &[u8]) -> Vec<u8> {
        use ssh_key::sha2::{Digest as _, Sha256};
        let mut signed = Sha256::digest(application).to_vec();
        signed.push(flags);
        signed.extend(counter.to_be_bytes());
        signed.extend(Sha256::digest(data));
        signed
    }

    /// `SigningKey` is ssh-key's re-exported face of `signature::Signer`,
    /// whose `try_sign` it lends to a bound.
    fn sign_with(key: &impl SigningKey, data: &[u8]) -> Signature {
        key.try_sign(data).unwrap()
    }

    /// No FIDO key here, so the authenticator is played by a software
    /// Ed25519 key: the answer an agent would relay parses, keeps flags and
    /// counter, re-encodes to the same bytes, and verifies with ssh-key and
    /// with ssh-keygen through an SSHSIG.
    #[test]
    fn an_sk_ed25519_signature_round_trips_and_verifies() {
        let private = PrivateKey::from(Ed25519Keypair::from_seed(&[7; 32]));
        let public = *private.public_key().key_data().ed25519().unwrap();
        let key = KeyData::SkEd25519(SkEd25519::new(public, "ssh:"));
        let msg = "signed with a security key";
        let data = SshSig::signed_data(NAMESPACE, HashAlg::Sha512, msg.as_bytes()).unwrap();
        let (flags, counter) = (0x01, 42);
        let raw = sign_with(&private, &sk_signed_data("ssh:", flags, counter, &data));
        let answer = sk_response("sk-ssh-ed25519@openssh.com", raw.as_bytes(), flags, counter);

        let signature = parse_sign_response(&answer, &key).unwrap();
        assert_eq!(signature.as_bytes().len(), 64 + 5);
        let reencoded = Vec::<u8>::try_from(signature.clone()).unwrap();
        assert_eq!(reencoded, answer[5..], "re-encoding changes the blob");

        let sshsig = SshSig::new(key.clone(), NAMESPACE, HashAlg::Sha512, signature).unwrap();
        let pem = sshsig.to_pem(LineEnding::LF).unwrap();
        PublicKey::from(key)
            .verify(NAMESPACE, msg.as_bytes(), &SshSig::from_pem(&pem).unwrap())
            .unwrap();
        if on_path("ssh-keygen") {
            let dir = tempfile::tempdir().unwrap();
            assert_ssh_keygen_accepts(&pem, msg, dir.path());
        }
    }

    /// sk-ecdsa parses and verifies in memory. Not through a PEM: ssh-key
    /// 0.6.7 re-encodes an sk-ecdsa signature with flags and counter inside
    /// the signature string (its encoder special-cases sk-ed25519 only), so
    /// `SshSig::to_pem` gives a file that its own `from_pem` and
    /// `ssh-keygen -Y check-novalidate` both reject as malformed.
    #[test]
    fn an_sk_ecdsa_signature_parses_and_verifies() {
        let mut rng = ssh_key::rand_core::OsRng;
        let pair = EcdsaKeypair::random(&mut rng, EcdsaCurve::NistP256).unwrap();
        let private = PrivateKey::from(pair);
        let Some(EcdsaPublicKey::NistP256(point)) = private.public_key().key_data().ecdsa() else {
            unreachable!("a P-256 key");
        };
        let key = KeyData::SkEcdsaSha2NistP256(SkEcdsaSha2NistP256::new(*point, "ssh:"));
        let msg = b"signed with a security key";
        let data = SshSig::signed_data(NAMESPACE, HashAlg::Sha512, msg).unwrap();
        let (flags, counter) = (0x05, 7);
        let raw = sign_with(&private, &sk_signed_data("ssh:", flags, counter, &data));
        let answer = sk_response(
            "sk-ecdsa-sha2-nistp256@openssh.com",
            raw.as_bytes(),
            flags,
            counter,
        );

        let signature = parse_sign_response(&answer, &key).unwrap();
        let sshsig = SshSig::new(key.clone(), NAMESPACE, HashAlg::Sha512, signature).unwrap();
        PublicKey::from(key)
            .verify(NAMESPACE, msg, &sshsig)
            .unwrap();
    }

    /// An agent that answers with the wrong algorithm, trailing bytes, a
    /// short body or an absurd count gets an error, not a panic.
    #[test]
    fn malformed_answers_are_protocol_errors() {
        let private = PrivateKey::from(Ed25519Keypair::from_seed(&[1; 32]));
        let key = private.public_key().key_data().clone();
        let mut rng = ssh_key::rand_core::OsRng;
        let ecdsa = PrivateKey::random(
            &mut rng,
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256,
            },
        )
        .unwrap()
        .public_key()
        .key_data()
        .clone();
        let good = Vec::<u8>::try_from(sign_with(&private, b"x")).unwrap();
        let response = |blob: &[u8], extra: &[u8]| {
            let mut answer = vec![SSH_AGENT_SIGN_RESPONSE];
            put_string(&mut answer, blob).unwrap();
            answer.extend_from_slice(extra);
            answer
        };
        assert!(parse_sign_response(&response(&good, &[]), &key).is_ok());
        for (answer, key) in [
            (response(&good, &[]), &ecdsa),
            (response(&good, &[0]), &key),
            (response(&good[..good.len() - 1], &[]), &key),
            (response(&[good.as_slice(), &[0]].concat(), &[]), &key),
            (vec![SSH_AGENT_SIGN_RESPONSE, 0, 0], &key),
            (vec![SSH_AGENT_IDENTITIES_ANSWER, 0, 0, 0, 0], &key),
            (vec![], &key),
        ] {
            let err = parse_sign_response(&answer, key).unwrap_err();
            assert!(
                matches!(err, AgentError::Protocol(_)),
                "{answer:?}: {err:?}"
            );
        }
        for answer in [
            vec![SSH_AGENT_IDENTITIES_ANSWER, 0xff, 0xff, 0xff, 0xff],
            vec![SSH_AGENT_IDENTITIES_ANSWER, 0, 0, 0, 1, 0, 0, 0, 9],
            vec![SSH_AGENT_IDENTITIES_ANSWER, 0, 0, 0, 0, 1],
        ] {
            let err = parse_identities_answer(&answer).map(|_| ()).unwrap_err();
            assert!(
                matches!(err, AgentError::Protocol(_)),
                "{answer:?}: {err:?}"
            );
        }
        for failure in [
            SSH_AGENT_FAILURE,
            SSH2_AGENT_FAILURE,
            SSH_COM_AGENT2_FAILURE,
        ] {
            let err = parse_sign_response(&[failure], &key).unwrap_err();
            assert!(matches!(err, AgentError::Refused), "{err:?}");
        }
    }

    fn paired() -> (Agent, UnixStream) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let agent = Agent {
            stream: ours,
            path: PathBuf::from("(socket pair)"),
            desynchronised: false,
        };
        (agent, theirs)
    }

    #[test]
    fn an_oversized_answer_is_refused_before_it_is_read() {
        let (mut agent, mut peer) = paired();
        peer.write_all(&(MAX_MESSAGE_LEN as u32 + 1).to_be_bytes())
            .unwrap();
        let err = agent
            .request(&[SSH_AGENTC_REQUEST_IDENTITIES], Duration::from_secs(5))
            .unwrap_err();
        assert!(
            matches!(&err, AgentError::Protocol(m) if m.contains("limit")),
            "{err:?}"
        );
        let err = agent.identities().unwrap_err();
        assert!(
            matches!(&err, AgentError::Io(m) if m.contains("connect again")),
            "{err:?}"
        );
        assert!(frame(&vec![0; MAX_MESSAGE_LEN + 1]).is_err());
    }

    #[test]
    fn an_agent_that_does_not_answer_times_out_and_the_connection_is_dropped() {
        let (mut agent, _peer) = paired();
        let err = agent
            .request(&[SSH_AGENTC_REQUEST_IDENTITIES], Duration::from_millis(50))
            .unwrap_err();
        assert!(
            matches!(&err, AgentError::Io(m) if m.contains("no answer within 0.05 s")),
            "{err:?}"
        );
        assert!(agent.desynchronised);
    }

    #[test]
    fn an_agent_that_hangs_up_is_an_io_error() {
        let (mut agent, peer) = paired();
        drop(peer);
        let err = agent.identities().unwrap_err();
        assert!(matches!(&err, AgentError::Io(_)), "{err:?}");
    }
}
