//! Arbitrary bytes against the event-stream decoder. It must never panic; every frame it
//! accepts must re-encode to exactly the bytes it came from (the encoding is canonical).
//!
//! Random bytes almost never pass the prelude CRC, so the fuzzer would not get past it on its
//! own: when the first byte is odd, the input is instead split into a header block and a
//! payload and wrapped in a frame with correct lengths and CRCs, which puts the header parser
//! in reach. When it is even, the rest is read as a stream, frame after frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_protocol::eventstream::{decode_message, encode_message};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 1 {
        let Some((&[hi, lo], rest)) = rest.split_first_chunk::<2>() else {
            return;
        };
        let split = usize::from(u16::from_be_bytes([hi, lo])).min(rest.len());
        let frame = frame(&rest[..split], &rest[split..]);
        match decode_message(&frame) {
            Ok(Some((message, used))) => {
                assert_eq!(used, frame.len());
                let again = encode_message(&message).expect("a decoded message re-encodes");
                assert_eq!(&again[..], &frame[..]);
            }
            Ok(None) => panic!("a complete frame must not ask for more bytes"),
            Err(_) => {}
        }
    } else {
        let mut stream = rest;
        while let Ok(Some((message, used))) = decode_message(stream) {
            assert!((16..=stream.len()).contains(&used));
            let again = encode_message(&message).expect("a decoded message re-encodes");
            assert_eq!(&again[..], &stream[..used]);
            stream = &stream[used..];
        }
    }
});

/// Wraps a header block and a payload with the lengths and CRCs the decoder checks.
fn frame(headers: &[u8], payload: &[u8]) -> Vec<u8> {
    let total = 16 + headers.len() + payload.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32(&out).to_be_bytes());
    out.extend_from_slice(headers);
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc32(&out).to_be_bytes());
    out
}

/// Bitwise IEEE CRC-32: slow, but keeps this target free of extra dependencies.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}
