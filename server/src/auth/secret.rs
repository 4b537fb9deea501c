//! The server secret and what is derived from it. `SECRET_KEY` (64 hexadecimal characters, 32
//! random bytes) or, when it is unset, a file created on first run beside the data with mode
//! 0600 and reused. HKDF-SHA-256 derives one subkey per use: HMAC-SHA-256 for the lookup hash
//! of API keys, AES-256-GCM for their sealed copy, bound to the organization and key ids.

use crate::auth::api_key::ApiKey;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The 32-byte server secret. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// Exactly 64 hexadecimal characters.
    pub fn parse_hex(text: &str) -> Option<MasterKey> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(MasterKey(bytes))
    }

    fn generate() -> MasterKey {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        MasterKey(bytes)
    }

    fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(redacted)")
    }
}

/// Where the secret comes from.
#[derive(Clone, Debug)]
pub enum SecretSource {
    /// `SECRET_KEY`.
    Given(MasterKey),
    /// A file Roster creates on first run and reuses (the default).
    File(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read or create the secret key file {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("the secret key file {0} does not hold 64 hexadecimal characters")]
    Invalid(String),
    #[error(
        "the secret key file {0} may be read by other users: let only its owner read it (chmod 600)"
    )]
    Exposed(String),
    #[error(
        "{0} is not the secret this database's API keys are sealed with: set that secret \
         (SECRET_KEY, or restore the secret key file); Roster never replaces existing keys silently"
    )]
    Mismatch(String),
}

impl SecretSource {
    /// The secret: the given one, or the file's, creating the file when it is missing.
    pub fn load(&self) -> Result<MasterKey, SecretError> {
        match self {
            SecretSource::Given(key) => Ok(key.clone()),
            SecretSource::File(path) => load_or_create(path),
        }
    }

    /// How to name the source in an error.
    pub fn describe(&self) -> String {
        match self {
            SecretSource::Given(_) => "SECRET_KEY".into(),
            SecretSource::File(path) => format!("the secret key file {}", path.display()),
        }
    }
}

fn load_or_create(path: &Path) -> Result<MasterKey, SecretError> {
    let io = |error| SecretError::Io {
        path: path.display().to_string(),
        error,
    };
    match std::fs::metadata(path) {
        Ok(meta) => {
            if exposed(&meta) {
                return Err(SecretError::Exposed(path.display().to_string()));
            }
            let text = std::fs::read_to_string(path).map_err(io)?;
            MasterKey::parse_hex(text.trim())
                .ok_or_else(|| SecretError::Invalid(path.display().to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            create(path).map_err(io)?;
            load_or_create(path)
        }
        Err(e) => Err(io(e)),
    }
}

/// Writes a new secret to a private temporary file and links it into place, so a process
/// starting at the same moment reads either no file or a whole one, and the first wins.
fn create(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).expect("the operating system's random source failed");
    let tmp = path.with_extension(format!("tmp-{}", u64::from_le_bytes(suffix)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    let written = writeln!(file, "{}", MasterKey::generate().to_hex())
        .and_then(|()| file.sync_all())
        .and_then(|()| match std::fs::hard_link(&tmp, path) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
            _ => Ok(()),
        });
    std::fs::remove_file(&tmp)?;
    written
}

#[cfg(unix)]
fn exposed(meta: &std::fs::Metadata) -> bool {
    std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o077 != 0
}

#[cfg(not(unix))]
fn exposed(_: &std::fs::Metadata) -> bool {
    false
}

/// The subkeys derived from the server secret.
#[derive(Clone)]
pub struct Keys {
    lookup: [u8; 32],
    seal: Aes256Gcm,
}

const NONCE_LEN: usize = 12;

impl Keys {
    pub fn derive(master: &MasterKey) -> Keys {
        let hkdf = hkdf::Hkdf::<Sha256>::new(Some(b"roster"), &master.0);
        let subkey = |info: &[u8]| {
            let mut key = [0u8; 32];
            hkdf.expand(info, &mut key)
                .expect("32 bytes is a valid HKDF-SHA-256 length");
            key
        };
        Keys {
            lookup: subkey(b"api-key lookup hmac-sha256 v1"),
            seal: Aes256Gcm::new(&subkey(b"api-key seal aes-256-gcm v1").into()),
        }
    }

    /// The keyed hash under which a key is stored and looked up (hex).
    pub fn lookup_hash(&self, key: &ApiKey) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.lookup)
            .expect("HMAC takes a key of any length");
        mac.update(key.expose().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A fingerprint of the secret, to compare the secrets of two starts without storing it:
    /// a keyed hash of a fixed text under the lookup subkey (hex).
    pub fn fingerprint(&self) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.lookup)
            .expect("HMAC takes a key of any length");
        mac.update(b"roster server secret fingerprint v1");
        hex::encode(mac.finalize().into_bytes())
    }

    /// The key encrypted for storage (base64 of nonce and ciphertext); it opens only as the
    /// key `key_id` of organization `org_id`.
    pub fn seal(&self, key: &ApiKey, org_id: i64, key_id: i64) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let aad = associated_data(org_id, key_id);
        let payload = Payload {
            msg: key.expose().as_bytes(),
            aad: &aad,
        };
        let sealed = self
            .seal
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("AES-GCM encrypts a short message");
        STANDARD_NO_PAD.encode([nonce.as_slice(), &sealed].concat())
    }

    /// The key sealed by `seal` for the same organization and key id; `None` for any other
    /// secret, organization, id or a damaged copy.
    pub fn open(&self, sealed: &str, org_id: i64, key_id: i64) -> Option<ApiKey> {
        let bytes = STANDARD_NO_PAD.decode(sealed).ok()?;
        if bytes.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let aad = associated_data(org_id, key_id);
        let payload = Payload {
            msg: ciphertext,
            aad: &aad,
        };
        let plain = self.seal.decrypt(Nonce::from_slice(nonce), payload).ok()?;
        ApiKey::parse(std::str::from_utf8(&plain).ok()?).ok()
    }
}

fn associated_data(org_id: i64, key_id: i64) -> Vec<u8> {
    format!("roster api key; org {org_id}; key {key_id}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::derive(&MasterKey::generate())
    }

    #[test]
    fn only_64_hex_characters_make_a_secret() {
        let hex = MasterKey::generate().to_hex();
        assert_eq!(MasterKey::parse_hex(&hex).unwrap().to_hex(), hex);
        assert!(MasterKey::parse_hex(&hex[..62]).is_none());
        assert!(MasterKey::parse_hex(&format!("{}zz", &hex[..62])).is_none());
        assert!(MasterKey::parse_hex(&format!("{}+f", &hex[..62])).is_none());
        assert!(MasterKey::parse_hex(&format!("{}é", &hex[..62])).is_none());
        assert_eq!(
            format!("{:?}", MasterKey::parse_hex(&hex).unwrap()),
            "MasterKey(redacted)"
        );
    }

    #[test]
    fn a_sealed_key_opens_only_for_its_organization_key_id_and_secret() {
        let (keys, key) = (keys(), ApiKey::generate());
        let sealed = keys.seal(&key, 7, 42);
        assert_eq!(keys.open(&sealed, 7, 42), Some(key.clone()));
        assert_eq!(keys.open(&sealed, 8, 42), None);
        assert_eq!(keys.open(&sealed, 7, 43), None);
        assert_eq!(self::keys().open(&sealed, 7, 42), None);
        assert!(!sealed.contains(key.expose()));
        let mut damaged = sealed.into_bytes();
        damaged[20] = if damaged[20] == b'A' { b'B' } else { b'A' };
        assert_eq!(keys.open(&String::from_utf8(damaged).unwrap(), 7, 42), None);
    }

    #[test]
    fn the_lookup_hash_depends_on_the_secret_and_the_subkeys_differ() {
        let master = MasterKey::generate();
        let (a, b) = (Keys::derive(&master), Keys::derive(&master));
        let key = ApiKey::generate();
        assert_eq!(a.lookup_hash(&key), b.lookup_hash(&key));
        assert_eq!(a.lookup_hash(&key).len(), 64);
        assert_ne!(a.lookup_hash(&key), keys().lookup_hash(&key));
        assert_ne!(a.lookup, master.0);
    }

    #[test]
    fn the_secret_file_is_created_private_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("secret.key");
        let source = SecretSource::File(path.clone());
        let first = source.load().unwrap();
        assert_eq!(source.load().unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(source.load(), Err(SecretError::Exposed(_))));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::write(&path, "not a secret").unwrap();
        assert!(matches!(source.load(), Err(SecretError::Invalid(_))));
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }
}
