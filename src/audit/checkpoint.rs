//! Signed checkpoints: the head of every review's chain, signed with an Ed25519 key kept
//! outside the state directory.
//!
//! A chain proves that nothing was changed inside it, not that it was not rewritten whole:
//! anyone who can write the state directory can recompute every hash. A checkpoint names, for
//! each chain, its first record's hash (which chain) and its last committed record (number and
//! hash), and is signed; a chain rewritten without the key no longer holds the checkpointed
//! record. `STATE/checkpoint.json` holds the latest one, replaced atomically when a head moved.
//!
//! Keys are PEM files, as OpenSSL writes them: the private key PKCS#8 (`BEGIN PRIVATE KEY`,
//! `openssl genpkey -algorithm ed25519` or `recert audit keygen`), the public key
//! SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`, `openssl pkey -pubout`).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};
use serde::{Deserialize, Serialize};

use crate::model::review::Timestamp;
use crate::store::Store;

/// The latest checkpoint's file in the state directory.
pub const FILE: &str = "checkpoint.json";

/// Signed before the checkpoint's JSON, so that a signature over something else Recert signs
/// can never pass for a checkpoint's.
const CONTEXT: &[u8] = b"recert audit checkpoint v1\n";

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), before the 32 key bytes.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {message}")]
    Key { path: String, message: String },
    #[error(
        "{key}: the key is inside the state directory {state_dir}; keep it elsewhere (whoever can write the state directory could replace it)"
    )]
    KeyInsideStateDir { key: String, state_dir: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a checkpoint: {message}")]
    Corrupt { path: String, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

fn key_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Key {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// The private key that signs checkpoints.
#[derive(Debug)]
pub struct SigningKey {
    pair: Ed25519KeyPair,
    path: PathBuf,
}

impl SigningKey {
    /// Reads the key at `path`, refusing one inside `state_dir`.
    pub fn load(path: &Path, state_dir: &Path) -> Result<SigningKey, Error> {
        refuse_inside(path, state_dir)?;
        let der = PrivateKeyDer::from_pem_file(path)
            .map_err(|e| key_error(path, format!("not a PEM private key: {e}")))?;
        let PrivateKeyDer::Pkcs8(der) = der else {
            return Err(key_error(path, "not a PKCS#8 Ed25519 private key"));
        };
        // `maybe_unchecked` also takes the PKCS#8 v1 keys OpenSSL writes (without the public
        // key, which ring then derives).
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.secret_pkcs8_der())
            .map_err(|e| key_error(path, format!("not an Ed25519 private key: {e}")))?;
        Ok(SigningKey {
            pair,
            path: path.to_path_buf(),
        })
    }

    fn key_id(&self) -> String {
        key_id(self.pair.public_key().as_ref())
    }
}

/// The public key that checks checkpoints.
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    raw: Vec<u8>,
}

impl VerifyingKey {
    /// Reads the key at `path`, refusing one inside `state_dir`.
    pub fn load(path: &Path, state_dir: &Path) -> Result<VerifyingKey, Error> {
        refuse_inside(path, state_dir)?;
        let der = SubjectPublicKeyInfoDer::from_pem_file(path)
            .map_err(|e| key_error(path, format!("not a PEM public key: {e}")))?;
        match der.as_ref().strip_prefix(&SPKI_PREFIX[..]) {
            Some(raw) if raw.len() == 32 => Ok(VerifyingKey { raw: raw.to_vec() }),
            _ => Err(key_error(path, "not an Ed25519 public key")),
        }
    }
}

fn key_id(public: &[u8]) -> String {
    format!("sha256:{}", &super::sha256_hex(public)[..16])
}

fn refuse_inside(key: &Path, state_dir: &Path) -> Result<(), Error> {
    let key_abs = std::fs::canonicalize(key).map_err(io(key))?;
    // A state directory not created yet holds nothing.
    let Ok(state_abs) = std::fs::canonicalize(state_dir) else {
        return Ok(());
    };
    if key_abs.starts_with(&state_abs) {
        return Err(Error::KeyInsideStateDir {
            key: key.display().to_string(),
            state_dir: state_dir.display().to_string(),
        });
    }
    Ok(())
}

/// A new key pair as PEM: (private PKCS#8, public SubjectPublicKeyInfo).
pub fn generate() -> Result<(String, String), Error> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| Error::Key {
        path: String::new(),
        message: "cannot generate a key: no system randomness".to_owned(),
    })?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|e| Error::Key {
        path: String::new(),
        message: e.to_string(),
    })?;
    let mut spki = SPKI_PREFIX.to_vec();
    spki.extend_from_slice(pair.public_key().as_ref());
    Ok((pem("PRIVATE KEY", pkcs8.as_ref()), pem("PUBLIC KEY", &spki)))
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// One chain's head as checkpointed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// Which chain: the hash of its first record.
    pub first: String,
    /// The hash of its last committed record.
    pub hash: String,
    pub review: String,
    pub seq: u64,
}

/// A signed checkpoint as stored in [`FILE`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    pub at: Timestamp,
    pub chains: Vec<ChainHead>,
    pub key_id: String,
    /// Ed25519 over [`CONTEXT`] and the JSON of the fields above, base64.
    pub signature: String,
}

/// What is signed: the checkpoint's fields but the signature, in this order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Unsigned<'a> {
    at: Timestamp,
    chains: &'a [ChainHead],
    key_id: &'a str,
}

fn message(at: Timestamp, chains: &[ChainHead], key_id: &str) -> Vec<u8> {
    let mut out = CONTEXT.to_vec();
    // Serialising plain data into memory cannot fail.
    let _ = serde_json::to_writer(&mut out, &Unsigned { at, chains, key_id });
    out
}

/// Why a checkpoint does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("it was signed by another key ({found}, not {expected})")]
    OtherKey { found: String, expected: String },
    #[error("its signature does not match its content: it was edited or forged")]
    Signature,
}

impl Checkpoint {
    /// Checks the signature with `key`.
    pub fn check(&self, key: &VerifyingKey) -> Result<(), Invalid> {
        let expected = key_id(&key.raw);
        if self.key_id != expected {
            return Err(Invalid::OtherKey {
                found: self.key_id.clone(),
                expected,
            });
        }
        let signature = base64::engine::general_purpose::STANDARD
            .decode(&self.signature)
            .map_err(|_| Invalid::Signature)?;
        UnparsedPublicKey::new(&ED25519, &key.raw)
            .verify(&message(self.at, &self.chains, &self.key_id), &signature)
            .map_err(|_| Invalid::Signature)
    }
}

/// Of a stored state, only what a checkpoint needs: the rest is skipped, not decoded (a pass
/// may sign after writing a thousand states).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeadOnly {
    state: NameOnly,
    #[serde(default)]
    audit_head: super::Head,
}

#[derive(Deserialize)]
struct NameOnly {
    name: String,
}

/// The head of every chain in the state directory (live and archived reviews) as each
/// review's state committed it, sorted by review and chain.
pub fn heads(store: &Store) -> Vec<ChainHead> {
    use rayon::prelude::*;
    let mut out: Vec<ChainHead> = store
        .review_folders()
        .into_par_iter()
        .filter_map(|dir| {
            let bytes = crate::fsutil::open_read(&dir.join("state.json"))
                .and_then(std::io::read_to_string)
                .ok()?;
            let stored: HeadOnly = serde_json::from_str(&bytes).ok()?;
            if stored.audit_head.hash.is_empty() {
                return None;
            }
            let first = first_hash(&dir.join("audit.jsonl"))?;
            Some(ChainHead {
                first,
                hash: stored.audit_head.hash,
                review: stored.state.name,
                seq: stored.audit_head.seq,
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.review, &a.first).cmp(&(&b.review, &b.first)));
    out
}

fn first_hash(log: &Path) -> Option<String> {
    use std::io::BufRead;
    let file = crate::fsutil::open_read(log).ok()?;
    let mut line = String::new();
    std::io::BufReader::new(file).read_line(&mut line).ok()?;
    serde_json::from_str::<super::Record>(&line)
        .ok()
        .map(|r| r.hash)
}

/// The latest checkpoint, if one was written.
pub fn latest(store: &Store) -> Result<Option<Checkpoint>, Error> {
    match read(&store.root().join(FILE)) {
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
        other => other.map(Some),
    }
}

/// A checkpoint from a file (the state directory's, or a copy kept elsewhere).
pub fn read(path: &Path) -> Result<Checkpoint, Error> {
    let text = crate::fsutil::open_read(path)
        .and_then(std::io::read_to_string)
        .map_err(io(path))?;
    serde_json::from_str(&text).map_err(|e| Error::Corrupt {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Signs the current heads and writes them as the latest checkpoint, unless they are the ones
/// the latest checkpoint (by this key) already holds. Returns the checkpoint written.
pub fn sign(store: &Store, key: &SigningKey, now: Timestamp) -> Result<Option<Checkpoint>, Error> {
    refuse_inside(&key.path, store.root())?;
    let chains = heads(store);
    let key_id = key.key_id();
    if let Ok(Some(last)) = latest(store)
        && last.chains == chains
        && last.key_id == key_id
    {
        return Ok(None);
    }
    let signature = key.pair.sign(&message(now, &chains, &key_id));
    let checkpoint = Checkpoint {
        at: now,
        chains,
        key_id,
        signature: base64::engine::general_purpose::STANDARD.encode(signature.as_ref()),
    };
    let path = store.root().join(FILE);
    let mut text =
        serde_json::to_vec_pretty(&checkpoint).map_err(|e| io(&path)(std::io::Error::other(e)))?;
    text.push(b'\n');
    crate::fsutil::write_atomic(&path, &text).map_err(io(&path))?;
    Ok(Some(checkpoint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(dir: &Path) -> (PathBuf, PathBuf) {
        let (private, public) = generate().expect("keys");
        let (p, q) = (dir.join("key.pem"), dir.join("key.pub.pem"));
        std::fs::write(&p, private).expect("private");
        std::fs::write(&q, public).expect("public");
        (p, q)
    }

    #[test]
    fn a_checkpoint_verifies_with_its_key_and_not_once_edited_or_with_another_key() {
        let keydir = tempfile::tempdir().expect("keys");
        let state = tempfile::tempdir().expect("state");
        let (private, public) = keys(keydir.path());
        let store = Store::open(state.path()).expect("store");
        let key = SigningKey::load(&private, state.path()).expect("private");
        let public = VerifyingKey::load(&public, state.path()).expect("public");
        let at = Timestamp::parse("2026-12-01T00:00:00Z").expect("time");
        let mut checkpoint = sign(&store, &key, at).expect("sign").expect("written");
        assert_eq!(latest(&store).expect("read").as_ref(), Some(&checkpoint));
        assert_eq!(checkpoint.check(&public), Ok(()));
        // Nothing moved: nothing is written.
        assert_eq!(sign(&store, &key, at).expect("sign"), None);

        checkpoint.chains.push(ChainHead {
            first: "f".into(),
            hash: "h".into(),
            review: "ga".into(),
            seq: 1,
        });
        assert_eq!(checkpoint.check(&public), Err(Invalid::Signature));

        let other = tempfile::tempdir().expect("other");
        let (_, other_public) = keys(other.path());
        let other_public = VerifyingKey::load(&other_public, state.path()).expect("public");
        assert!(matches!(
            latest(&store)
                .expect("read")
                .expect("one")
                .check(&other_public),
            Err(Invalid::OtherKey { .. })
        ));
    }

    #[test]
    fn a_key_inside_the_state_directory_is_refused() {
        let state = tempfile::tempdir().expect("state");
        let (private, public) = keys(state.path());
        assert!(matches!(
            SigningKey::load(&private, state.path()),
            Err(Error::KeyInsideStateDir { .. })
        ));
        assert!(matches!(
            VerifyingKey::load(&public, state.path()),
            Err(Error::KeyInsideStateDir { .. })
        ));
    }
}
