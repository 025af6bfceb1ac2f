//! Sealed tokens: data the host hands to a client and must get back
//! unaltered (the `requestState` of a 2026-07-28 call waiting for input).
//! A token is the JSON payload and a keyed BLAKE3 MAC over it, both
//! base64url; it is signed, not encrypted, so it never carries secrets.
//! Every failure to open a token is one error: the client learns nothing
//! about why.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The key tokens are sealed with.
#[derive(Clone)]
pub struct SealKey([u8; 32]);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

/// A token that is malformed, altered, or sealed with another key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the token was not issued by this host or has been altered")]
pub struct OpenError;

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the state key {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the state key {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the state key {path} must hold 32 random bytes, found {len}")]
    Length { path: String, len: usize },
    #[error("no random numbers available: {0}")]
    Random(String),
}

impl SealKey {
    /// A fresh random key (tokens die with the process).
    pub fn generate() -> Result<Self, KeyError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self(key))
    }

    /// The key in `path`, created (readable by the owner only) when absent,
    /// so tokens survive a restart and several hosts can share one key.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        if !path.exists() {
            let key = Self::generate()?;
            // `create_new`: when another process wins the race, its key is used.
            write_private(path, &key.0).map_err(|source| KeyError::Write {
                path: path.display().to_string(),
                source,
            })?;
        }
        Self::load_existing(path)
    }

    fn load_existing(path: &Path) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| KeyError::Read {
            path: shown.clone(),
            source,
        })?;
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| KeyError::Length {
            path: shown,
            len: bytes.len(),
        })?;
        Ok(Self(key))
    }

    /// A key for another purpose, derived from this one (so hosts sharing
    /// the state key share it too).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        blake3::derive_key(purpose, &self.0)
    }

    /// Seal `value` into a token.
    pub fn seal<T: Serialize>(&self, value: &T) -> String {
        let payload = serde_json::to_vec(value).expect("sealed values serialize");
        let mac = blake3::keyed_hash(&self.0, &payload);
        format!("{}.{}", B64.encode(&payload), B64.encode(mac.as_bytes()))
    }

    /// Open a token sealed with this key.
    pub fn open<T: DeserializeOwned>(&self, token: &str) -> Result<T, OpenError> {
        let (payload, mac) = token.split_once('.').ok_or(OpenError)?;
        let payload = B64.decode(payload).map_err(|_| OpenError)?;
        let mac: [u8; 32] = B64
            .decode(mac)
            .map_err(|_| OpenError)?
            .try_into()
            .map_err(|_| OpenError)?;
        // `blake3::Hash` compares in constant time.
        if blake3::keyed_hash(&self.0, &payload) != blake3::Hash::from(mac) {
            return Err(OpenError);
        }
        serde_json::from_slice(&payload).map_err(|_| OpenError)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => file.write_all(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let key = SealKey::generate().unwrap();
        let token = key.seal(&serde_json::json!({"step": 1}));
        let back: serde_json::Value = key.open(&token).unwrap();
        assert_eq!(back["step"], 1);

        let (payload, mac) = token.split_once('.').unwrap();
        let forged = B64.encode(br#"{"step":2}"#);
        assert_eq!(
            key.open::<serde_json::Value>(&format!("{forged}.{mac}")),
            Err(OpenError)
        );
        assert_eq!(key.open::<serde_json::Value>(payload), Err(OpenError));
        let other = SealKey::generate().unwrap();
        assert_eq!(other.open::<serde_json::Value>(&token), Err(OpenError));
    }

    #[test]
    fn key_files_are_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("seal-key-{}", std::process::id()));
        let path = dir.join("state.key");
        let _ = std::fs::remove_file(&path);
        let a = SealKey::load_or_create(&path).unwrap();
        let b = SealKey::load_or_create(&path).unwrap();
        assert_eq!(a.0, b.0);
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            SealKey::load_or_create(&path),
            Err(KeyError::Length { len: 5, .. })
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(test)]
mod properties {
    use super::SealKey;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::test_strategies::CASES))]

        /// No token a client makes up opens, and none panics.
        #[test]
        fn made_up_tokens_never_open(token in "[A-Za-z0-9_.-]{0,200}|\\PC{0,64}") {
            let key = SealKey::generate().unwrap();
            prop_assert!(key.open::<serde_json::Value>(&token).is_err());
        }

        /// A sealed token with any one byte changed does not open.
        #[test]
        fn altered_tokens_never_open(value in any::<u64>(), at in any::<usize>(), to in any::<u8>()) {
            let key = SealKey::generate().unwrap();
            let token = key.seal(&value);
            let mut bytes = token.into_bytes();
            let i = at % bytes.len();
            prop_assume!(bytes[i] != to);
            bytes[i] = to;
            let altered = String::from_utf8_lossy(&bytes).into_owned();
            prop_assert!(key.open::<u64>(&altered).is_err());
        }
    }
}
