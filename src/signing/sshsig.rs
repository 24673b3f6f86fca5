//! OpenSSH signatures (PROTOCOL.sshsig): reading the armoured form, and
//! checking one against a message, in process.
//!
//! `ssh_key::SshSig` reads signatures by plain keys only; a signature by a
//! certificate (what `cert-authority` lines in allowed_signers are for)
//! carries the certificate where the key would be. So the outer structure
//! is read here, and the cryptographic check is `ssh_key`'s, on the
//! certificate's own key when there is one.

use super::allowed_signers::SignerKey;
use ssh_encoding::{Decode, Reader};
use ssh_key::public::KeyData;
use ssh_key::{HashAlg, PublicKey, SshSig};

const MAGIC: &[u8; 6] = b"SSHSIG";
const BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
const END: &str = "-----END SSH SIGNATURE-----";
/// The user-presence bit of a hardware key's signature flags: the key was
/// touched for this signature.
const USER_PRESENT: u8 = 0x01;

/// A signature as read: who made it, over which namespace, and whether a
/// hardware key saw a touch.
pub struct Parsed {
    pub signer: SignerKey,
    /// The signing key itself (the certificate's key for a certificate).
    key: KeyData,
    namespace: String,
    inner: SshSig,
}

impl Parsed {
    /// Whether the signing key is a hardware (`sk-`) key.
    pub fn is_hardware(&self) -> bool {
        self.key.is_sk_ed25519() || self.key.is_sk_ecdsa_p256()
    }

    /// For a hardware key: whether the signature says the key was touched.
    /// `None` for other keys, which cannot say.
    pub fn touched(&self) -> Option<bool> {
        if !self.is_hardware() {
            return None;
        }
        // The signature ends in the flags byte and a 4-byte counter.
        let bytes = self.inner.signature_bytes();
        let flags = bytes.len().checked_sub(5).map(|i| bytes[i])?;
        Some(flags & USER_PRESENT != 0)
    }

    /// The signing key's SHA256 fingerprint, as `ssh-keygen -l` shows it.
    pub fn fingerprint(&self) -> String {
        PublicKey::from(self.key.clone())
            .fingerprint(HashAlg::Sha256)
            .to_string()
    }

    /// Checks the signature over `message` in `namespace`.
    pub fn verify(&self, namespace: &str, message: &[u8]) -> Result<(), String> {
        if self.namespace != namespace {
            return Err(format!(
                "the signature is for namespace `{}`, not `{namespace}`",
                crate::text::printable(&self.namespace)
            ));
        }
        PublicKey::from(self.key.clone())
            .verify(namespace, message, &self.inner)
            .map_err(|_| "the signature does not match what it claims to sign".to_string())
    }
}

/// Reads an armoured signature (`-----BEGIN SSH SIGNATURE-----`).
pub fn parse(armored: &str) -> Result<Parsed, String> {
    let body = armored
        .trim()
        .strip_prefix(BEGIN)
        .and_then(|rest| rest.strip_suffix(END))
        .ok_or("not an SSH signature (no BEGIN/END SSH SIGNATURE lines)")?;
    let b64: String = body.split_whitespace().collect();
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64)
        .map_err(|_| "not an SSH signature (bad base64)".to_string())?;
    decode(&bytes).map_err(|e| format!("not an SSH signature ({e})"))
}

fn decode(bytes: &[u8]) -> Result<Parsed, String> {
    let bad = |what: &str| format!("bad {what}");
    let mut r = bytes;
    let mut magic = [0u8; 6];
    r.read(&mut magic).map_err(|_| bad("preamble"))?;
    if &magic != MAGIC {
        return Err(bad("preamble"));
    }
    let version = u32::decode(&mut r).map_err(|_| bad("version"))?;
    if version != 1 {
        return Err(format!("version {version} is not supported"));
    }
    let key_blob = Vec::<u8>::decode(&mut r).map_err(|_| bad("public key"))?;
    let namespace = String::decode(&mut r).map_err(|_| bad("namespace"))?;
    let _reserved = Vec::<u8>::decode(&mut r).map_err(|_| bad("reserved field"))?;
    let hash_alg = HashAlg::new(&String::decode(&mut r).map_err(|_| bad("hash algorithm"))?)
        .map_err(|_| bad("hash algorithm"))?;
    let sig_blob = Vec::<u8>::decode(&mut r).map_err(|_| bad("signature"))?;
    if !r.is_empty() {
        return Err("trailing bytes".into());
    }
    let signer = signer_key(&key_blob)?;
    let key = match &signer {
        SignerKey::Plain(k) => k.clone(),
        SignerKey::Cert(c) => c.public_key().clone(),
    };
    let signature =
        ssh_key::Signature::decode(&mut sig_blob.as_slice()).map_err(|_| bad("signature"))?;
    let inner = SshSig::new(key.clone(), namespace.clone(), hash_alg, signature)
        .map_err(|e| format!("bad signature ({e})"))?;
    Ok(Parsed {
        signer,
        key,
        namespace,
        inner,
    })
}

/// The signer's public key blob: a key, or a certificate (its algorithm
/// name ends in `-cert-v01@openssh.com`).
fn signer_key(blob: &[u8]) -> Result<SignerKey, String> {
    let algorithm = String::decode(&mut &blob[..]).map_err(|_| "bad public key".to_string())?;
    if algorithm.ends_with("-cert-v01@openssh.com") {
        let cert =
            ssh_key::Certificate::from_bytes(blob).map_err(|e| format!("bad certificate ({e})"))?;
        Ok(SignerKey::Cert(Box::new(cert)))
    } else {
        KeyData::decode(&mut &blob[..])
            .map(SignerKey::Plain)
            .map_err(|e| format!("bad public key ({e})"))
    }
}

/// The armoured form of a signature made here.
pub fn armor(sig: &SshSig) -> Result<String, String> {
    sig.to_pem(ssh_key::LineEnding::LF)
        .map_err(|e| format!("cannot encode the signature: {e}"))
}
