//! Ciphertext blobs of Encrypt and GenerateDataKey, and the encryption context's canonical
//! form. Like KMS's own, a blob names its key, so Decrypt needs no KeyId.
//!
//! Version 1 (45 + n bytes for n bytes of plaintext):
//! ```text
//! +------+--------------------+-------------+------------------------------+----------------+
//! | 0x01 | key UUID (16 B)    | nonce (12 B)| AES-256-GCM ciphertext (n B) | GCM tag (16 B) |
//! +------+--------------------+-------------+------------------------------+----------------+
//! ```
//! The key is the KMS key's 256-bit material; the additional authenticated data is the
//! first 17 bytes (version and key UUID) followed by [`canonical_context`], so a blob whose
//! header was edited, or decrypted with another context, fails.

use ring::aead::NONCE_LEN;
use zeroize::Zeroizing;

use crate::root::{fill_random, open, seal};

pub const BLOB_VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 16;
const TAG_LEN: usize = 16;
/// The smallest blob: header, nonce, tag (and no plaintext, which KMS refuses anyway).
pub const MIN_BLOB_LEN: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

/// The context as authenticated bytes: pairs sorted by name (then value), each name and
/// value as a 4-byte big-endian length and its UTF-8 bytes. An empty context is empty.
pub fn canonical_context(context: &[(String, String)]) -> Vec<u8> {
    let mut pairs: Vec<&(String, String)> = context.iter().collect();
    pairs.sort();
    let mut out = Vec::new();
    for (name, value) in pairs {
        for part in [name, value] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    out
}

/// The key UUID a blob names, when it has the shape of a version-1 blob.
pub fn blob_key_id(blob: &[u8]) -> Option<uuid::Uuid> {
    if blob.len() < MIN_BLOB_LEN || blob[0] != BLOB_VERSION {
        return None;
    }
    Some(uuid::Uuid::from_bytes(blob[1..HEADER_LEN].try_into().ok()?))
}

pub fn seal_blob(
    material: &[u8; 32],
    key_id: uuid::Uuid,
    plaintext: &[u8],
    context: &[(String, String)],
) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce);
    seal_with_nonce(material, key_id, nonce, plaintext, context)
}

pub(crate) fn seal_with_nonce(
    material: &[u8; 32],
    key_id: uuid::Uuid,
    nonce: [u8; NONCE_LEN],
    plaintext: &[u8],
    context: &[(String, String)],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(MIN_BLOB_LEN + plaintext.len());
    out.push(BLOB_VERSION);
    out.extend_from_slice(key_id.as_bytes());
    let aad = aad(&out, context);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&seal(material, nonce, plaintext, &aad));
    out
}

/// The plaintext, or `None` when the blob was not sealed under `material` with `context`.
pub fn open_blob(
    material: &[u8; 32],
    blob: &[u8],
    context: &[(String, String)],
) -> Option<Zeroizing<Vec<u8>>> {
    blob_key_id(blob)?;
    let aad = aad(&blob[..HEADER_LEN], context);
    let nonce: [u8; NONCE_LEN] = blob[HEADER_LEN..HEADER_LEN + NONCE_LEN].try_into().ok()?;
    open(material, nonce, &blob[HEADER_LEN + NONCE_LEN..], &aad)
}

fn aad(header: &[u8], context: &[(String, String)]) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(&canonical_context(context));
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn context_is_order_free_and_unambiguous() {
        let a = canonical_context(&ctx(&[("b", "2"), ("a", "1")]));
        assert_eq!(a, canonical_context(&ctx(&[("a", "1"), ("b", "2")])));
        assert_eq!(a, b"\0\0\0\x01a\0\0\0\x011\0\0\0\x01b\0\0\0\x012".to_vec());
        assert_ne!(
            canonical_context(&ctx(&[("ab", "c")])),
            canonical_context(&ctx(&[("a", "bc")]))
        );
        assert!(canonical_context(&[]).is_empty());
    }

    #[test]
    fn pinned_layout() {
        let id = uuid::Uuid::from_bytes([0x11; 16]);
        let blob = seal_with_nonce(&[5; 32], id, [0; 12], b"data", &ctx(&[("k", "v")]));
        assert_eq!(blob.len(), MIN_BLOB_LEN + 4);
        assert_eq!(blob[0], 1);
        assert_eq!(&blob[1..17], &[0x11; 16]);
        let hex: String = blob.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, PINNED_BLOB_HEX);
        assert_eq!(blob_key_id(&blob), Some(id));
        assert_eq!(
            &open_blob(&[5; 32], &blob, &ctx(&[("k", "v")])).unwrap()[..],
            b"data"
        );
        assert!(open_blob(&[5; 32], &blob, &ctx(&[("k", "w")])).is_none());
        assert!(open_blob(&[5; 32], &blob, &[]).is_none());
        let mut moved = blob.clone();
        moved[1] ^= 1;
        assert!(open_blob(&[5; 32], &moved, &ctx(&[("k", "v")])).is_none());
    }
    // Computed independently with Python's `cryptography` (AESGCM) from the layout above.
    const PINNED_BLOB_HEX: &str =
        "01111111111111111111111111111111110000000000000000000000006d8c21ff66ac4cda9c99c38b8f217035fbd9334a";
}
