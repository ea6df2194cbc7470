//! Authenticated opaque tokens (shard iterators, NextTokens).
//!
//! ```text
//! base64-standard-padded( 00 00 00 00 00 00 00 01 ++ body ++ 00.. ++ HMAC-SHA256(key, body ++ 00..) )
//!                         AWS's 8-byte prefix       body[0] = token kind, so one kind can
//!                                                   never pass for another
//! ```
//!
//! The outward form is AWS's: every shard iterator and NextToken AWS has published starts
//! with the 8 bytes `0000000000000001` ("AAAAAAAAAAE"/"AAAAAAAAAAG" in base64) followed by a
//! ciphertext that is a whole number of 16-byte blocks, 144 to 192 bytes long in the
//! recorded examples (the GetShardIterator and ListShards examples of AWS's API reference,
//! AWS CLI transcripts in public READMEs), standard base64 with padding; kinesalite, whose
//! checks were written against AWS, takes 152 to 280 decoded bytes. So the sealed part
//! (body, zero padding, MAC) is padded to whole 16-byte blocks and to at least 144 bytes:
//! tools that size buffers or check lengths from AWS's tokens see the same length class.
//! The body is authenticated, not encrypted: nothing in it is secret from its holder.
//!
//! The key is 32 random bytes created once and kept in the MetaStore, so tokens survive a
//! restart. Tampering with any byte fails the constant-time MAC check. Tokens of release
//! 0.1 (base64url without padding, no prefix, no padding bytes) still open, so a reader
//! holding one across the upgrade keeps its place.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;
const MAC_LEN: usize = 32;
/// AWS's prefix of every token.
const PREFIX: [u8; 8] = [0, 0, 0, 0, 0, 0, 0, 1];
/// The sealed part's block size and smallest size, as in AWS's tokens (see above).
const BLOCK: usize = 16;
const MIN_SEALED: usize = 144;

/// Token kinds, the first body byte. Never renumber.
pub(crate) const KIND_SHARD_ITERATOR: u8 = 1;
pub(crate) const KIND_LIST_SHARDS: u8 = 2;
pub(crate) const KIND_LIST_STREAMS: u8 = 3;
pub(crate) const KIND_LIST_CONSUMERS: u8 = 4;

/// Seals and opens tokens under the server secret.
pub(crate) struct Sealer {
    key: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    pub(crate) fn new(key: [u8; 32]) -> Self {
        Sealer { key }
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    pub(crate) fn seal(&self, body: &[u8]) -> String {
        let sealed = (body.len() + MAC_LEN)
            .div_ceil(BLOCK)
            .saturating_mul(BLOCK)
            .max(MIN_SEALED);
        let mut raw = Vec::with_capacity(PREFIX.len() + sealed);
        raw.extend_from_slice(&PREFIX);
        raw.extend_from_slice(body);
        raw.resize(PREFIX.len() + sealed - MAC_LEN, 0);
        let mut mac = self.mac();
        mac.update(&raw[PREFIX.len()..]);
        raw.extend_from_slice(&mac.finalize().into_bytes());
        STANDARD.encode(raw)
    }

    /// The body of a token this server sealed with kind `kind`, or None. The body may end
    /// in the zero bytes that padded it; [`Reader::done`] accepts those.
    pub(crate) fn open(&self, kind: u8, token: &str) -> Option<Vec<u8>> {
        let mut raw = match STANDARD.decode(token) {
            Ok(mut raw) if raw.starts_with(&PREFIX) => raw.split_off(PREFIX.len()),
            // Release 0.1's form; its first byte is a token kind, never 0.
            _ => URL_SAFE_NO_PAD.decode(token).ok()?,
        };
        if raw.len() <= MAC_LEN {
            return None;
        }
        let split = raw.len() - MAC_LEN;
        let mut mac = self.mac();
        mac.update(&raw[..split]);
        mac.verify_slice(&raw[split..]).ok()?;
        raw.truncate(split);
        (raw[0] == kind).then_some(raw)
    }
}

/// Little helpers to write and read token bodies field by field.
#[derive(Default)]
pub(crate) struct Writer(Vec<u8>);

impl Writer {
    pub(crate) fn new(kind: u8, version: u8) -> Self {
        Writer(vec![kind, version])
    }
    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub(crate) fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// A string of at most 255 bytes (names, account ids, shard ids).
    pub(crate) fn str(&mut self, s: &str) -> &mut Self {
        let b = s.as_bytes();
        let n = b.len().min(255);
        self.0.push(n as u8);
        self.0.extend_from_slice(&b[..n]);
        self
    }
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

pub(crate) struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// Skips the kind byte and checks the version byte.
    pub(crate) fn new(body: &'a [u8], version: u8) -> Option<Self> {
        match body {
            [_, v, rest @ ..] if *v == version => Some(Reader(rest)),
            _ => None,
        }
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    pub(crate) fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    pub(crate) fn str(&mut self) -> Option<String> {
        let n = usize::from(self.u8()?);
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    /// True when every byte was read but the zero bytes that pad a sealed token (other
    /// trailing bytes mean a malformed token).
    pub(crate) fn done(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip() {
        let s = Sealer::new([7; 32]);
        let body = Writer::new(KIND_LIST_STREAMS, 1).str("abc").u64(9).finish();
        let t = s.seal(&body);
        let opened = s.open(KIND_LIST_STREAMS, &t).unwrap();
        assert_eq!(opened[..body.len()], body[..]);
        assert!(opened[body.len()..].iter().all(|&b| b == 0));
    }

    #[test]
    fn wrong_kind_key_or_bytes_fail() {
        let s = Sealer::new([7; 32]);
        let t = s.seal(&Writer::new(KIND_LIST_SHARDS, 1).u32(1).finish());
        assert!(s.open(KIND_SHARD_ITERATOR, &t).is_none());
        assert!(Sealer::new([8; 32]).open(KIND_LIST_SHARDS, &t).is_none());
        let mut raw = STANDARD.decode(&t).unwrap();
        // Every byte counts, the prefix and the padding included.
        for i in 0..raw.len() {
            raw[i] ^= 1;
            assert!(s.open(KIND_LIST_SHARDS, &STANDARD.encode(&raw)).is_none());
            raw[i] ^= 1;
        }
        assert!(s.open(KIND_LIST_SHARDS, &STANDARD.encode(&raw)).is_some());
        assert!(s.open(KIND_LIST_SHARDS, "not base64 !").is_none());
        assert!(s.open(KIND_LIST_SHARDS, "").is_none());
    }

    /// The outward form of AWS's tokens: its prefix, standard base64 with padding, and a
    /// sealed part of whole 16-byte blocks, 144 bytes or more (152..=280 decoded bytes).
    #[test]
    fn tokens_have_aws_outward_form() {
        let s = Sealer::new([7; 32]);
        for name_len in [1, 4, 17, 64, 128] {
            let body = Writer::new(KIND_SHARD_ITERATOR, 1)
                .u64(1)
                .str(&"n".repeat(name_len))
                .finish();
            let t = s.seal(&body);
            assert!(t.starts_with("AAAAAAAAAAE"), "{t}");
            assert_eq!(t.len() % 4, 0, "{t}");
            let raw = STANDARD.decode(&t).unwrap();
            assert_eq!(raw[..8], PREFIX);
            assert_eq!((raw.len() - 8) % 16, 0, "{}", raw.len());
            assert!((152..=280).contains(&raw.len()), "{}", raw.len());
            let opened = s.open(KIND_SHARD_ITERATOR, &t).unwrap();
            assert_eq!(opened[..body.len()], body[..]);
            let mut r = Reader::new(&opened, 1).unwrap();
            assert_eq!(r.u64(), Some(1));
            assert_eq!(r.str().map(|n| n.len()), Some(name_len));
            assert!(r.done());
        }
    }

    /// A token of release 0.1: base64url without padding of body ++ MAC.
    #[test]
    fn release_0_1_tokens_still_open() {
        let s = Sealer::new([7; 32]);
        let body = Writer::new(KIND_LIST_STREAMS, 1).str("abc").u64(9).finish();
        let mut mac = s.mac();
        mac.update(&body);
        let mut raw = body.clone();
        raw.extend_from_slice(&mac.finalize().into_bytes());
        let old = URL_SAFE_NO_PAD.encode(&raw);
        assert_eq!(s.open(KIND_LIST_STREAMS, &old), Some(body));
        assert!(s.open(KIND_LIST_SHARDS, &old).is_none());
    }

    #[test]
    fn reader_rejects_short_and_versions() {
        let body = Writer::new(1, 1).u64(5).finish();
        assert!(Reader::new(&body, 2).is_none());
        let mut r = Reader::new(&body, 1).unwrap();
        assert_eq!(r.u64(), Some(5));
        assert!(r.done());
        assert_eq!(r.u8(), None);
        let body = Writer::new(1, 1).u64(5).u8(0).u8(3).finish();
        let mut r = Reader::new(&body, 1).unwrap();
        assert_eq!(r.u64(), Some(5));
        assert!(!r.done(), "a non-zero trailing byte is not padding");
    }
}
