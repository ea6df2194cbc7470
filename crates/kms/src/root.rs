//! The root key: the one secret outside the MetaStore, which wraps every KMS key's material.
//!
//! Wrapped blob (version 1), all integers big-endian:
//! ```text
//! +---------+-----------------+------------------------------+----------------+
//! | 0x01    | nonce (12 B)    | AES-256-GCM ciphertext (n B) | GCM tag (16 B) |
//! +---------+-----------------+------------------------------+----------------+
//! ```
//! The caller's `aad` (for key material: the key's ARN) is authenticated, not stored, so a
//! blob copied onto another key's record fails to unwrap.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, Zeroizing};

/// Version byte of [`RootKey::wrap`]'s blobs.
pub const WRAP_VERSION: u8 = 1;
/// File name of the root key inside the data directory.
pub const ROOT_KEY_FILE: &str = "kms-root.key";
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum RootKeyError {
    #[error("the root key is not valid base64 of 32 bytes")]
    Malformed,
    #[error("root key file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Wrong root key, altered blob, or another `aad`.
    #[error("the blob could not be unwrapped with this root key")]
    Unwrap,
}

/// 32 secret bytes, zeroized on drop and never printed.
#[derive(Clone)]
pub struct RootKey {
    bytes: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey(..)")
    }
}

impl RootKey {
    pub fn from_bytes(bytes: [u8; 32]) -> RootKey {
        RootKey {
            bytes: Zeroizing::new(bytes),
        }
    }

    /// A fresh random key.
    pub fn generate() -> RootKey {
        let mut bytes = Zeroizing::new([0u8; 32]);
        fill_random(&mut bytes[..]);
        RootKey { bytes }
    }

    /// Standard base64 of exactly 32 bytes; surrounding whitespace is ignored.
    pub fn from_base64(text: &str) -> Result<RootKey, RootKeyError> {
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| RootKeyError::Malformed)?,
        );
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| RootKeyError::Malformed)?;
        Ok(RootKey::from_bytes(bytes))
    }

    /// Standard base64 text, as [`RootKey::load_file`] reads it.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&self.bytes[..]))
    }

    pub fn load_file(path: &Path) -> Result<RootKey, RootKeyError> {
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| RootKeyError::Io {
                    path: path.to_path_buf(),
                    source,
                })?,
            );
        RootKey::from_base64(&text)
    }

    /// Loads `data_dir/kms-root.key`, or creates it (mode 0600, fsynced with its directory)
    /// when absent. The flag tells whether it was created. Two processes racing both end up
    /// with the file's key: the loser of `create_new` reads the winner's.
    pub fn load_or_create(data_dir: &Path) -> Result<(RootKey, bool), RootKeyError> {
        let path = data_dir.join(ROOT_KEY_FILE);
        let io = |source| RootKeyError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::symlink_metadata(&path) {
            Ok(_) => return Ok((RootKey::load_file(&path)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let key = RootKey::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = match options.open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Ok((RootKey::load_file(&path)?, false));
            }
            Err(e) => return Err(io(e)),
        };
        let mut text = key.to_base64();
        text.push('\n');
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::File::open(data_dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        Ok((key, true))
    }

    /// Encrypts `plaintext` under the root key, authenticating `aad`.
    pub fn wrap(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.push(WRAP_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&seal(&self.bytes, nonce, plaintext, aad));
        out
    }

    pub fn unwrap(&self, blob: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, RootKeyError> {
        if blob.len() < 1 + NONCE_LEN + TAG_LEN || blob[0] != WRAP_VERSION {
            return Err(RootKeyError::Unwrap);
        }
        let nonce: [u8; NONCE_LEN] = blob[1..1 + NONCE_LEN].try_into().expect("length checked");
        open(&self.bytes, nonce, &blob[1 + NONCE_LEN..], aad).ok_or(RootKeyError::Unwrap)
    }

    /// HMAC-SHA256 of `label` under the root key: a value that identifies the key without
    /// revealing it (the MetaStore's root-check record).
    pub fn check_value(&self, label: &[u8]) -> [u8; 32] {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.bytes[..]);
        let tag = ring::hmac::sign(&key, label);
        tag.as_ref().try_into().expect("SHA-256 is 32 bytes")
    }
}

pub(crate) fn fill_random(buf: &mut [u8]) {
    SystemRandom::new()
        .fill(buf)
        .expect("the system random source failed");
}

/// AES-256-GCM: ciphertext followed by the 16-byte tag.
pub(crate) fn seal(
    key: &[u8; 32],
    nonce: [u8; NONCE_LEN],
    plaintext: &[u8],
    aad: &[u8],
) -> Vec<u8> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("32-byte key"));
    let mut buf = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut buf,
    )
    .expect("AES-GCM seal of a bounded buffer");
    buf
}

/// The plaintext, or `None` when the tag does not verify.
pub(crate) fn open(
    key: &[u8; 32],
    nonce: [u8; NONCE_LEN],
    sealed: &[u8],
    aad: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("32-byte key"));
    let mut buf = Zeroizing::new(sealed.to_vec());
    match key.open_in_place(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut buf,
    ) {
        Ok(plain) => {
            let n = plain.len();
            buf.truncate(n);
            Some(buf)
        }
        Err(_) => {
            buf.zeroize();
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_round_trips_and_refuses_tampering() {
        let key = RootKey::generate();
        let blob = key.wrap(b"material", b"arn");
        assert_eq!(blob[0], WRAP_VERSION);
        assert_eq!(blob.len(), 1 + 12 + 8 + 16);
        assert_eq!(&key.unwrap(&blob, b"arn").unwrap()[..], b"material");
        assert!(key.unwrap(&blob, b"other").is_err());
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 1;
            assert!(key.unwrap(&bad, b"arn").is_err(), "byte {i} flipped");
        }
        assert!(RootKey::generate().unwrap(&blob, b"arn").is_err());
        assert!(key.unwrap(&blob[..20], b"arn").is_err());
    }

    #[test]
    fn pinned_blob_still_unwraps() {
        // Frozen format: version 1, zero nonce, key = 32 x 0x07, aad "aad", plaintext "hi".
        let key = RootKey::from_bytes([7; 32]);
        let mut blob = vec![1u8];
        blob.extend_from_slice(&[0; 12]);
        blob.extend_from_slice(&seal(&[7; 32], [0; 12], b"hi", b"aad"));
        let hex: String = blob.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, PINNED_WRAP_HEX);
        assert_eq!(&key.unwrap(&blob, b"aad").unwrap()[..], b"hi");
    }
    // Computed independently with Python's `cryptography` (AESGCM) from the layout above.
    const PINNED_WRAP_HEX: &str = "0100000000000000000000000009b11f8df06a2f084e796a44f3107631b4b1";

    #[test]
    fn base64_and_debug() {
        let key = RootKey::from_bytes([9; 32]);
        let text = key.to_base64();
        assert_eq!(
            RootKey::from_base64(&format!("  {}\n", &*text))
                .unwrap()
                .check_value(b"x"),
            key.check_value(b"x")
        );
        assert!(matches!(
            RootKey::from_base64("AAAA"),
            Err(RootKeyError::Malformed)
        ));
        assert!(matches!(
            RootKey::from_base64("not base64!"),
            Err(RootKeyError::Malformed)
        ));
        assert_eq!(format!("{key:?}"), "RootKey(..)");
    }

    #[cfg(unix)]
    #[test]
    fn load_or_create_makes_a_private_file_and_reloads_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (first, created) = RootKey::load_or_create(dir.path()).unwrap();
        assert!(created);
        let meta = std::fs::metadata(dir.path().join(ROOT_KEY_FILE)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let (again, created) = RootKey::load_or_create(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(first.check_value(b"l"), again.check_value(b"l"));
        let loaded = RootKey::load_file(&dir.path().join(ROOT_KEY_FILE)).unwrap();
        assert_eq!(first.check_value(b"l"), loaded.check_value(b"l"));
    }
}
