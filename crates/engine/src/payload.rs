//! The record payload the engine stores in the ShardLog (the log itself adds offset and
//! arrival time).
//!
//! ```text
//!  off   size   field
//!   0     1     layout version = 1
//!   1     1     flags: bit 0 = a partition key follows; other bits 0
//!  (2     2     partition key length in bytes, u16 BE      -- only when bit 0 is set
//!   4     n     partition key, UTF-8)
//!   .     rest  data blob, as the producer sent it
//! ```
//!
//! The explicit hash key is not kept: it only picks the shard, and GetRecords does not
//! return it. Unknown versions or flags are reported as corrupt rather than guessed at.
//!
//! Records of an encrypted stream are stored sealed (layout version 2): the whole
//! version-1 payload, partition key included, encrypted with AES-256-GCM under one of the
//! stream's data keys (see `datakeys`).
//!
//! ```text
//!  off   size   field
//!   0     1     layout version = 2
//!   1     8     data key id, u64 BE   (names MetaStore record datakey/{stream id}/{id})
//!   9    12     nonce (96 random bits)
//!  21   n+16    AES-256-GCM ciphertext of the version-1 payload (n bytes), then the tag
//!
//!  AAD = 0x02 ++ stream id (u64 BE) ++ data key id (u64 BE)
//! ```
//!
//! The AAD binds a sealed record to its stream incarnation and its data key: a payload
//! copied into another stream, or relabelled with another key id, fails to open.
//!
//! Nonces are random rather than counted: several nodes (and every restart) write under
//! keys of their own without coordinating, and a data key seals at most one period's worth
//! of one node's records (`EngineConfig::data_key_period`), far below the 2^32 messages
//! after which random 96-bit nonces would risk a collision (NIST SP 800-38D, 8.3).

use bytes::{BufMut, Bytes, BytesMut};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

const VERSION: u8 = 1;
const SEALED_VERSION: u8 = 2;
/// Version, data key id, nonce.
const SEALED_HEADER: usize = 1 + 8 + NONCE_LEN;
const TAG_LEN: usize = 16;
const HAS_PARTITION_KEY: u8 = 0b0000_0001;

/// Builds the stored form of one record.
pub(crate) fn encode(partition_key: Option<&str>, data: &[u8]) -> Bytes {
    let pk = partition_key.map(str::as_bytes);
    let header = 2 + pk.map_or(0, |k| 2 + k.len());
    let mut buf = BytesMut::with_capacity(header + data.len());
    write_plain(&mut buf, pk, data);
    buf.freeze()
}

/// The version-1 layout, appended to `buf`.
fn write_plain(buf: &mut BytesMut, pk: Option<&[u8]>, data: &[u8]) {
    buf.put_u8(VERSION);
    match pk {
        Some(k) => {
            buf.put_u8(HAS_PARTITION_KEY);
            // Partition keys are at most 256 characters, so at most 1024 bytes.
            buf.put_u16(k.len() as u16);
            buf.put_slice(k);
        }
        None => buf.put_u8(0),
    }
    buf.put_slice(data);
}

/// A stored record taken apart; `data` shares the payload's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub partition_key: Option<String>,
    pub data: Bytes,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("stored record payload is malformed: {0}")]
pub(crate) struct PayloadError(&'static str);

pub(crate) fn decode(payload: &Bytes) -> Result<Decoded, PayloadError> {
    let b = payload.as_ref();
    if b.len() < 2 {
        return Err(PayloadError("shorter than its header"));
    }
    if b[0] != VERSION {
        return Err(PayloadError("unknown layout version"));
    }
    match b[1] {
        0 => Ok(Decoded {
            partition_key: None,
            data: payload.slice(2..),
        }),
        HAS_PARTITION_KEY => {
            if b.len() < 4 {
                return Err(PayloadError("truncated partition key length"));
            }
            let n = usize::from(u16::from_be_bytes([b[2], b[3]]));
            let key = b
                .get(4..4 + n)
                .ok_or(PayloadError("truncated partition key"))?;
            let key =
                std::str::from_utf8(key).map_err(|_| PayloadError("partition key is not UTF-8"))?;
            Ok(Decoded {
                partition_key: Some(key.to_owned()),
                data: payload.slice(4 + n..),
            })
        }
        _ => Err(PayloadError("unknown flags")),
    }
}

/// How a stored payload is laid out, read from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Plain,
    /// Sealed under this data key of the stream.
    Sealed {
        data_key: u64,
    },
}

pub(crate) fn layout(payload: &[u8]) -> Result<Layout, PayloadError> {
    match payload.first() {
        Some(&VERSION) => Ok(Layout::Plain),
        Some(&SEALED_VERSION) if payload.len() >= SEALED_HEADER + TAG_LEN => {
            let id: [u8; 8] = payload[1..9].try_into().expect("8 bytes");
            Ok(Layout::Sealed {
                data_key: u64::from_be_bytes(id),
            })
        }
        Some(&SEALED_VERSION) => Err(PayloadError("sealed payload shorter than its header")),
        Some(_) => Err(PayloadError("unknown layout version")),
        None => Err(PayloadError("shorter than its header")),
    }
}

/// A data key's plaintext made usable for AES-256-GCM, for one request. Built per request
/// rather than cached, so only the zeroized raw key (in `datakeys`) outlives a request.
pub(crate) struct Cipher {
    key: LessSafeKey,
    stream_id: u64,
    data_key: u64,
    /// The next nonce to seal with: 96 random bits drawn once per request, then counted
    /// (as big-endian integer) record by record. One draw per request rather than per record
    /// keeps a system call off every record; the nonces stay as unlikely to repeat as
    /// independent random ones, since a request seals at most 500 records (consecutive
    /// values from a uniformly random start).
    next_nonce: std::sync::Mutex<u128>,
}

impl Cipher {
    pub(crate) fn new(key: &[u8; 32], stream_id: u64, data_key: u64) -> Self {
        let unbound = UnboundKey::new(&AES_256_GCM, key).expect("AES-256 keys are 32 bytes");
        let mut start = [0u8; 16];
        // A failing system random source leaves the start at zero; `seal` then refuses.
        let drawn = SystemRandom::new().fill(&mut start[4..]).is_ok();
        Cipher {
            key: LessSafeKey::new(unbound),
            stream_id,
            data_key,
            next_nonce: std::sync::Mutex::new(if drawn {
                u128::from_be_bytes(start) | (1 << 96)
            } else {
                0
            }),
        }
    }

    fn aad(&self) -> [u8; 17] {
        let mut aad = [0u8; 17];
        aad[0] = SEALED_VERSION;
        aad[1..9].copy_from_slice(&self.stream_id.to_be_bytes());
        aad[9..].copy_from_slice(&self.data_key.to_be_bytes());
        aad
    }

    /// Seals one record (its version-1 payload) with the next nonce.
    pub(crate) fn seal(
        &self,
        partition_key: Option<&str>,
        data: &[u8],
    ) -> Result<Bytes, PayloadError> {
        let nonce = {
            let mut next = self.next_nonce.lock().unwrap_or_else(|e| e.into_inner());
            // Bit 96 marks a drawn start; counting never reaches it from below in one request.
            if *next >> 96 != 1 {
                return Err(PayloadError("the system random source failed"));
            }
            let n = *next;
            *next += 1;
            n
        };
        let nonce: [u8; NONCE_LEN] = nonce.to_be_bytes()[4..].try_into().expect("12 bytes");
        self.seal_with(partition_key, data, nonce)
    }

    /// Writes header, version-1 payload and tag into one buffer, encrypting in place: one
    /// allocation and one copy of the record.
    fn seal_with(
        &self,
        partition_key: Option<&str>,
        data: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Result<Bytes, PayloadError> {
        let pk = partition_key.map(str::as_bytes);
        let plain_len = 2 + pk.map_or(0, |k| 2 + k.len()) + data.len();
        let mut buf = BytesMut::with_capacity(SEALED_HEADER + plain_len + TAG_LEN);
        buf.put_u8(SEALED_VERSION);
        buf.put_u64(self.data_key);
        buf.put_slice(&nonce);
        write_plain(&mut buf, pk, data);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.aad()),
                &mut buf[SEALED_HEADER..],
            )
            .map_err(|_| PayloadError("record too large to seal"))?;
        buf.put_slice(tag.as_ref());
        Ok(buf.freeze())
    }

    /// Opens a sealed payload of this stream and data key, and decodes what it holds.
    pub(crate) fn open(&self, payload: &[u8]) -> Result<Decoded, PayloadError> {
        if layout(payload)?
            != (Layout::Sealed {
                data_key: self.data_key,
            })
        {
            return Err(PayloadError("sealed under another data key"));
        }
        let nonce: [u8; NONCE_LEN] = payload[9..SEALED_HEADER].try_into().expect("12 bytes");
        let mut body = payload[SEALED_HEADER..].to_vec();
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.aad()),
                &mut body,
            )
            .map_err(|_| PayloadError("sealed payload fails authentication"))?;
        let n = plain.len();
        body.truncate(n);
        decode(&Bytes::from(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for (pk, data) in [
            (Some("key"), &b"hello"[..]),
            (Some(""), &b""[..]),
            (None, &b"\x00\x01\x02"[..]),
            (Some("ünïcödé 🔥"), &[0u8; 1000][..]),
        ] {
            let p = encode(pk, data);
            assert_eq!(p.len(), 2 + pk.map_or(0, |k| 2 + k.len()) + data.len());
            let d = decode(&p).unwrap();
            assert_eq!(d.partition_key.as_deref(), pk);
            assert_eq!(&d.data[..], data);
        }
    }

    #[test]
    fn layout_is_frozen() {
        assert_eq!(&encode(Some("ab"), b"xy")[..], b"\x01\x01\x00\x02abxy");
        assert_eq!(&encode(None, b"xy")[..], b"\x01\x00xy");
    }

    #[test]
    fn rejects_malformed() {
        assert!(decode(&Bytes::from_static(b"\x01")).is_err());
        assert!(decode(&Bytes::from_static(b"\x02\x00")).is_err());
        assert!(decode(&Bytes::from_static(b"\x01\x04")).is_err());
        assert!(decode(&Bytes::from_static(b"\x01\x01\x00\x05ab")).is_err());
        assert!(decode(&Bytes::from_static(b"\x01\x01\x00\x01\xff")).is_err());
    }

    #[test]
    fn sealed_round_trips() {
        let sealer = Cipher::new(&[7u8; 32], 3, 99);
        for (pk, data) in [(Some("key"), &b"hello"[..]), (None, &b""[..])] {
            let plain = encode(pk, data);
            let sealed = sealer.seal(pk, data).unwrap();
            assert_eq!(sealed.len(), SEALED_HEADER + plain.len() + TAG_LEN);
            assert_eq!(layout(&sealed), Ok(Layout::Sealed { data_key: 99 }));
            assert!(!sealed.windows(3).any(|w| w == b"key"));
            let d = sealer.open(&sealed).unwrap();
            assert_eq!(d.partition_key.as_deref(), pk);
            assert_eq!(&d.data[..], data);
        }
        // Two seals of one record differ (fresh nonces), and so do two requests' ciphers.
        let nonce = |b: &Bytes| b[9..SEALED_HEADER].to_vec();
        let (a, b) = (
            sealer.seal(Some("k"), b"x").unwrap(),
            sealer.seal(Some("k"), b"x").unwrap(),
        );
        assert_ne!(a, b);
        assert_ne!(nonce(&a), nonce(&b));
        let other = Cipher::new(&[7u8; 32], 3, 99)
            .seal(Some("k"), b"x")
            .unwrap();
        assert_ne!(nonce(&other), nonce(&a));
        assert_ne!(nonce(&other), nonce(&b));
    }

    #[test]
    fn sealed_layout_is_frozen() {
        let sealer = Cipher::new(&[0u8; 32], 1, 0x0102_0304_0506_0708);
        let sealed = sealer
            .seal_with(Some("ab"), b"xy", [0xaa; NONCE_LEN])
            .unwrap();
        let mut expected = vec![2u8, 1, 2, 3, 4, 5, 6, 7, 8];
        expected.extend_from_slice(&[0xaa; 12]);
        assert_eq!(&sealed[..SEALED_HEADER], &expected[..]);
        // AES-256-GCM, key 0^32, nonce aa^12, AAD 02 ++ 1u64 ++ 0102030405060708, of the
        // version-1 payload 01 01 0002 'a' 'b' 'x' 'y'.
        assert_eq!(
            hex(&sealed[SEALED_HEADER..]),
            PINNED_CIPHERTEXT,
            "the sealed layout changed"
        );
        assert_eq!(&sealer.open(&sealed).unwrap().data[..], b"xy");
    }

    /// Computed independently with Python's `cryptography` (AESGCM(bytes(32)).encrypt(
    /// b"\xaa" * 12, b"\x01\x01\x00\x02abxy", aad)); any change to how key, nonce or AAD
    /// are used shows here.
    const PINNED_CIPHERTEXT: &str = "9fa10446bd27f1e906f2c4c23bb3719ec73bc2782c6e4da5";

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn sealed_payloads_are_bound_to_stream_and_key() {
        let sealed = Cipher::new(&[1u8; 32], 3, 9)
            .seal(Some("k"), b"secret")
            .unwrap();
        // Another stream, same key and id: refused.
        assert!(Cipher::new(&[1u8; 32], 4, 9).open(&sealed).is_err());
        // Another key under the same id: refused.
        assert!(Cipher::new(&[2u8; 32], 3, 9).open(&sealed).is_err());
        // Relabelled with another data key id: refused.
        let mut relabelled = sealed.to_vec();
        relabelled[8] ^= 1;
        assert!(Cipher::new(&[1u8; 32], 3, 8).open(&relabelled).is_err());
        // Any flipped byte of the body: refused.
        let mut flipped = sealed.to_vec();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(Cipher::new(&[1u8; 32], 3, 9).open(&flipped).is_err());
        assert!(layout(b"\x02\x00").is_err());
        assert!(layout(b"\x03").is_err());
    }
}
