//! Credentials at rest: AES-256-GCM (aws-lc-rs) with a random 96-bit nonce per write and
//! the camera id as associated data.
//!
//! A sealed value is the text `v1:` + standard base64 of nonce (12 bytes) ‖ ciphertext ‖
//! tag (16 bytes); the plaintext is the JSON object `{"username", "password"}`. Binding
//! the camera id means a sealed value copied into another camera's row does not open.
//!
//! The 32-byte key comes from the configuration (`devices.credential_key`, base64), or —
//! for a single node only — from `<data_dir>/credential.key`, created on first start.
//! Losing the key loses every stored password (the cameras stay, their credentials must be
//! entered again); several nodes sharing a database must share the configured key.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use watchpost_config::{DevicesConfig, Secret};

use super::InventoryError;
use super::model::{CameraId, Credentials};

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "credential.key";
/// Length of the key, bytes.
const KEY_LEN: usize = 32;
/// Length of the GCM tag, bytes.
const TAG_LEN: usize = 16;
/// Prefix of every sealed value of this format.
const PREFIX: &str = "v1:";

/// Where a cipher's key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `devices.credential_key` in the configuration, or a key given in code.
    Configured,
    /// The key file in the data directory (single node only).
    File {
        /// The file.
        path: PathBuf,
        /// Whether this call created it (a new, empty key: credentials stored under
        /// another key before no longer open).
        created: bool,
    },
}

/// Why a credential key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key is not the base64 of 32 bytes. `source_name` is the configuration key or
    /// the file; the key itself is never shown.
    #[error("{source_name}: {reason}")]
    Invalid {
        /// `devices.credential_key`, or the key file's path.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading or creating the key file failed.
    #[error("{action} {}: {source}", .path.display())]
    Io {
        /// "reading", "creating", …
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The system's crypto library or random number generator failed.
    #[error("the system crypto library failed while {action}")]
    Crypto {
        /// What was being done.
        action: &'static str,
    },
}

/// Seals and opens camera credentials. Cheap to clone; `Debug` never shows the key.
#[derive(Clone)]
pub struct CredentialCipher {
    key: Arc<RandomizedNonceKey>,
    origin: KeyOrigin,
}

impl fmt::Debug for CredentialCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialCipher")
            .field("algorithm", &"AES-256-GCM")
            .field("key", &watchpost_config::REDACTED)
            .field("origin", &self.origin)
            .finish()
    }
}

/// The sealed plaintext.
#[derive(Serialize)]
struct PlainOut<'a> {
    username: &'a str,
    password: &'a str,
}

#[derive(Deserialize)]
struct PlainIn {
    username: String,
    password: String,
}

impl CredentialCipher {
    /// A cipher with this raw key ([`KeyOrigin::Configured`]).
    pub fn from_key(key: &[u8; KEY_LEN]) -> Result<CredentialCipher, KeyError> {
        Self::with_origin(key, KeyOrigin::Configured)
    }

    fn with_origin(key: &[u8], origin: KeyOrigin) -> Result<CredentialCipher, KeyError> {
        let key = RandomizedNonceKey::new(&AES_256_GCM, key).map_err(|_| KeyError::Crypto {
            action: "loading the credential key",
        })?;
        Ok(CredentialCipher {
            key: Arc::new(key),
            origin,
        })
    }

    /// A cipher with a base64 key (standard alphabet, padded: 44 characters, as
    /// `openssl rand -base64 32` prints). `source_name` names where it came from in errors.
    pub fn from_base64(key: &Secret, source_name: &str) -> Result<CredentialCipher, KeyError> {
        let bytes = decode_key(key.expose(), source_name)?;
        Self::with_origin(&bytes, KeyOrigin::Configured)
    }

    /// The cipher the configuration asks for: `devices.credential_key` when set, otherwise
    /// [`CredentialCipher::load_or_create`] in `data_dir` (check [`CredentialCipher::origin`]
    /// and warn: a key file suits a single node only).
    pub fn from_config(
        config: &DevicesConfig,
        data_dir: &Path,
    ) -> Result<CredentialCipher, KeyError> {
        match &config.credential_key {
            Some(key) => Self::from_base64(key, "devices.credential_key"),
            None => Self::load_or_create(data_dir),
        }
    }

    /// Reads the key from `<data_dir>/credential.key`, or creates that file with a fresh
    /// random key ([`load_or_create_key_file`]). Single node only: other nodes would not
    /// have the key.
    pub fn load_or_create(data_dir: &Path) -> Result<CredentialCipher, KeyError> {
        let (bytes, origin) = load_or_create_key_file(data_dir, KEY_FILE)?;
        Self::with_origin(&bytes, origin)
    }

    /// A fresh random key, base64 (what `devices.credential_key` takes).
    pub fn generate_key() -> Result<Secret, KeyError> {
        let mut key = [0u8; KEY_LEN];
        aws_lc_rs::rand::fill(&mut key).map_err(|_| KeyError::Crypto {
            action: "generating a credential key",
        })?;
        Ok(Secret::new(STANDARD.encode(key)))
    }

    /// Where the key came from.
    pub fn origin(&self) -> &KeyOrigin {
        &self.origin
    }

    /// Seals `credentials` for camera `id`: `v1:` + base64(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, id: &CameraId, credentials: &Credentials) -> Result<String, InventoryError> {
        let encrypt_err = || InventoryError::Encrypt { id: id.clone() };
        let mut buffer = serde_json::to_vec(&PlainOut {
            username: &credentials.username,
            password: credentials.password.expose(),
        })
        .map_err(|_| encrypt_err())?;
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(id.as_str().as_bytes()), &mut buffer)
            .map_err(|_| encrypt_err())?;
        let mut blob = Vec::with_capacity(NONCE_LEN + buffer.len());
        blob.extend_from_slice(nonce.as_ref());
        blob.extend_from_slice(&buffer);
        Ok(format!("{PREFIX}{}", STANDARD.encode(blob)))
    }

    /// Opens a value sealed by [`CredentialCipher::seal`] for the same camera `id`.
    ///
    /// Fails with [`InventoryError::Decrypt`] (naming the camera) when the key differs,
    /// the value belongs to another camera, or it is damaged.
    pub fn open(&self, id: &CameraId, sealed: &str) -> Result<Credentials, InventoryError> {
        let decrypt_err = || InventoryError::Decrypt { id: id.clone() };
        let encoded = sealed.strip_prefix(PREFIX).ok_or_else(decrypt_err)?;
        let mut blob = STANDARD.decode(encoded).map_err(|_| decrypt_err())?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(decrypt_err());
        }
        let nonce =
            Nonce::try_assume_unique_for_key(&blob[..NONCE_LEN]).map_err(|_| decrypt_err())?;
        let plain = self
            .key
            .open_in_place(
                nonce,
                Aad::from(id.as_str().as_bytes()),
                &mut blob[NONCE_LEN..],
            )
            .map_err(|_| decrypt_err())?;
        let parsed: PlainIn = serde_json::from_slice(plain).map_err(|_| decrypt_err())?;
        Ok(Credentials {
            username: parsed.username,
            password: Secret::new(parsed.password),
        })
    }
}

/// The 32-byte key in `<data_dir>/<file_name>` (base64), created with a fresh random key
/// if missing (mode 0600, written to a temporary file and linked into place, so a
/// concurrent start never sees half a key and two starts agree on one key). Creates
/// `data_dir` if missing. The camera credential key and the web layer's token key are
/// kept this way when the configuration gives none; single node only.
pub fn load_or_create_key_file(
    data_dir: &Path,
    file_name: &str,
) -> Result<(Vec<u8>, KeyOrigin), KeyError> {
    let path = data_dir.join(file_name);
    if let Some(bytes) = read_key_file(&path)? {
        return Ok((
            bytes,
            KeyOrigin::File {
                path,
                created: false,
            },
        ));
    }
    std::fs::create_dir_all(data_dir).map_err(|source| KeyError::Io {
        action: "creating the data directory",
        path: data_dir.to_owned(),
        source,
    })?;
    let key = CredentialCipher::generate_key()?;
    let mut suffix = [0u8; 6];
    aws_lc_rs::rand::fill(&mut suffix).map_err(|_| KeyError::Crypto {
        action: "naming a temporary key file",
    })?;
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = data_dir.join(format!(".{file_name}.{suffix}.tmp"));
    let written = write_new_private(&tmp, format!("{}\n", key.expose()).as_bytes());
    let linked = written.and_then(|()| {
        std::fs::hard_link(&tmp, &path).map_err(|source| KeyError::Io {
            action: "creating",
            path: path.clone(),
            source,
        })
    });
    let _ = std::fs::remove_file(&tmp);
    let created = match linked {
        Ok(()) => true,
        // Another process created it first: use theirs.
        Err(KeyError::Io { source, .. }) if source.kind() == ErrorKind::AlreadyExists => false,
        Err(e) => return Err(e),
    };
    if created {
        sync_dir(data_dir)?;
    }
    let bytes = match read_key_file(&path)? {
        Some(bytes) => bytes,
        None => {
            return Err(KeyError::Io {
                action: "reading",
                path,
                source: std::io::Error::new(ErrorKind::NotFound, "vanished after creation"),
            });
        }
    };
    Ok((bytes, KeyOrigin::File { path, created }))
}

/// Decodes a base64 key; errors never quote it.
fn decode_key(text: &str, source_name: &str) -> Result<Vec<u8>, KeyError> {
    let invalid = |reason: String| KeyError::Invalid {
        source_name: source_name.to_owned(),
        reason,
    };
    let bytes = STANDARD.decode(text.trim()).map_err(|_| {
        invalid(format!(
            "expected the standard base64 of {KEY_LEN} random bytes (44 characters, e.g. from \
             `openssl rand -base64 32`); the value given is not base64"
        ))
    })?;
    if bytes.len() != KEY_LEN {
        return Err(invalid(format!(
            "expected the base64 of {KEY_LEN} random bytes, got {} bytes",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// The key in the file, or `None` when there is no file.
fn read_key_file(path: &Path) -> Result<Option<Vec<u8>>, KeyError> {
    match std::fs::read_to_string(path) {
        Ok(text) => decode_key(&text, &path.display().to_string()).map(Some),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(KeyError::Io {
            action: "reading",
            path: path.to_owned(),
            source,
        }),
    }
}

/// Creates `path` (which must not exist) readable by its owner only, writes and syncs it.
fn write_new_private(path: &Path, content: &[u8]) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        action: "writing",
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(content).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Makes a new directory entry durable (a key that vanishes after a power cut would make
/// every stored password unreadable).
fn sync_dir(dir: &Path) -> Result<(), KeyError> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| KeyError::Io {
                action: "syncing",
                path: dir.to_owned(),
                source,
            })?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            username: "admin".into(),
            password: Secret::new("pa55-w0rd"),
        }
    }

    #[test]
    fn seal_open_round_trip_and_binding() {
        let cipher = CredentialCipher::from_key(&[7; 32]).unwrap();
        let a = CameraId::parse("cam-a").unwrap();
        let b = CameraId::parse("cam-b").unwrap();
        let sealed = cipher.seal(&a, &creds()).unwrap();
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("pa55"));
        assert_ne!(
            sealed,
            cipher.seal(&a, &creds()).unwrap(),
            "fresh nonce per seal"
        );
        assert_eq!(cipher.open(&a, &sealed).unwrap(), creds());

        let err = cipher.open(&b, &sealed).unwrap_err();
        assert!(matches!(err, InventoryError::Decrypt { .. }));
        assert_eq!(
            err.to_string(),
            "credentials of camera cam-b cannot be decrypted: wrong key?"
        );
        let other = CredentialCipher::from_key(&[8; 32]).unwrap();
        assert!(matches!(
            other.open(&a, &sealed),
            Err(InventoryError::Decrypt { .. })
        ));
        for damaged in ["", "v1:", "v1:!!", "v2:AAAA", &sealed[..sealed.len() - 4]] {
            assert!(cipher.open(&a, damaged).is_err(), "{damaged}");
        }
        assert!(!format!("{cipher:?}").contains("7, 7"));
    }

    #[test]
    fn base64_keys() {
        let key = CredentialCipher::generate_key().unwrap();
        assert_eq!(key.expose().len(), 44);
        assert!(CredentialCipher::from_base64(&key, "k").is_ok());
        let short = Secret::new(STANDARD.encode([1u8; 16]));
        let err = CredentialCipher::from_base64(&short, "devices.credential_key").unwrap_err();
        assert_eq!(
            err.to_string(),
            "devices.credential_key: expected the base64 of 32 random bytes, got 16 bytes"
        );
        let err = CredentialCipher::from_base64(&Secret::new("not base64!"), "k").unwrap_err();
        assert!(!err.to_string().contains("not base64!"), "{err}");
    }

    #[test]
    fn key_file_is_created_once_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("watchpost-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let data = dir.join("data");
        let first = CredentialCipher::load_or_create(&data).unwrap();
        let path = data.join(KEY_FILE);
        assert_eq!(
            first.origin(),
            &KeyOrigin::File {
                path: path.clone(),
                created: true
            }
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = CredentialCipher::load_or_create(&data).unwrap();
        assert_eq!(
            second.origin(),
            &KeyOrigin::File {
                path: path.clone(),
                created: false
            }
        );
        let id = CameraId::parse("x").unwrap();
        let sealed = first.seal(&id, &creds()).unwrap();
        assert_eq!(second.open(&id, &sealed).unwrap(), creds());
        let leftovers: Vec<_> = std::fs::read_dir(&data).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");

        std::fs::write(&path, "garbage\n").unwrap();
        let err = CredentialCipher::load_or_create(&data).unwrap_err();
        assert!(err.to_string().contains(KEY_FILE), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
