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

use bytes::{BufMut, Bytes, BytesMut};

const VERSION: u8 = 1;
const HAS_PARTITION_KEY: u8 = 0b0000_0001;

/// Builds the stored form of one record.
pub(crate) fn encode(partition_key: Option<&str>, data: &[u8]) -> Bytes {
    let pk = partition_key.map(str::as_bytes);
    let header = 2 + pk.map_or(0, |k| 2 + k.len());
    let mut buf = BytesMut::with_capacity(header + data.len());
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
    buf.freeze()
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
}
