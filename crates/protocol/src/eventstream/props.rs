//! Property-style tests over generated messages and hostile bytes.

use aws_smithy_types::DateTime;

use super::tests::{decode_one, reframe};
use super::*;

/// xorshift64: deterministic, no dependency, plenty for generating test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn text(&mut self, n: usize) -> String {
        const ALPHABET: [&str; 8] = ["a", "Z", "9", ":", "-", "é", "世", "🦀"];
        (0..n)
            .map(|_| ALPHABET[self.below(ALPHABET.len())])
            .collect()
    }
    /// Mostly short, now and then long, so limits get exercised without slowing the test.
    fn len(&mut self, max: usize) -> usize {
        if self.below(20) == 0 {
            self.below(max + 1)
        } else {
            self.below(max.min(24) + 1)
        }
    }
    fn some_bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.len(max);
        self.bytes(n)
    }
    fn some_text(&mut self, max: usize) -> String {
        let n = self.len(max);
        self.text(n)
    }
    fn value(&mut self) -> HeaderValue {
        match self.below(10) {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => HeaderValue::Byte(self.next() as i8),
            3 => HeaderValue::Int16(self.next() as i16),
            4 => HeaderValue::Int32(self.next() as i32),
            5 => HeaderValue::Int64(self.next() as i64),
            6 => HeaderValue::ByteArray(self.some_bytes(MAX_HEADER_VALUE_LEN).into()),
            7 => HeaderValue::String(self.some_text(MAX_HEADER_VALUE_LEN / 4).into()),
            8 => HeaderValue::Timestamp(DateTime::from_millis(self.next() as i64)),
            _ => HeaderValue::Uuid(u128::from(self.next()) << 64 | u128::from(self.next())),
        }
    }
    fn message(&mut self) -> Message {
        let mut headers: Vec<Header> = Vec::new();
        for _ in 0..self.below(8) {
            // Up to 63 characters of at most 4 bytes: within the 255-byte limit.
            let name_len = 1 + self.len(255 / 4 - 1);
            let name = self.text(name_len);
            if headers.iter().all(|h| h.name().as_str() != name) {
                headers.push(Header::new(name, self.value()));
            }
        }
        Message::new_from_parts(headers, self.some_bytes(4096))
    }
}

#[test]
fn random_messages_round_trip_whole_and_in_pieces() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let messages: Vec<Message> = (0..500).map(|_| rng.message()).collect();
    let mut stream = Vec::new();
    for m in &messages {
        let frame = encode_message(m).unwrap();
        assert_eq!(&decode_one(&frame), m);
        stream.extend_from_slice(&frame);
    }
    // Feed the stream in random chunks, as a socket would, and decode as frames complete.
    let (mut buffer, mut fed, mut got) = (Vec::new(), 0, Vec::new());
    while fed < stream.len() {
        let n = (1 + rng.below(3000)).min(stream.len() - fed);
        buffer.extend_from_slice(&stream[fed..fed + n]);
        fed += n;
        while let Some((m, used)) = decode_message(&buffer).unwrap() {
            got.push(m);
            buffer.drain(..used);
        }
    }
    assert!(buffer.is_empty());
    assert_eq!(got, messages);
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for _ in 0..20_000 {
        let len = rng.below(64);
        let junk = rng.bytes(len);
        let _ = decode_message(&junk);
    }
}

/// Hostile header blocks behind valid CRCs reach the header parser. Whatever it accepts must
/// re-encode to the same bytes: the encoding is canonical, so anything else is a parser bug.
#[test]
fn mutated_frames_never_panic_and_accepted_ones_are_canonical() {
    let mut rng = Rng(0x0ddc_0ffe_e0dd_f00d);
    let (mut accepted, mut rejected) = (0, 0);
    for _ in 0..20_000 {
        let m = rng.message();
        let frame = encode_message(&m).unwrap();
        let headers_len = frame.len() - 16 - m.payload().len();
        let mut block = frame[12..12 + headers_len].to_vec();
        for _ in 0..1 + rng.below(3) {
            match rng.below(3) {
                0 if !block.is_empty() => {
                    let i = rng.below(block.len());
                    block[i] = rng.next() as u8;
                }
                1 if !block.is_empty() => block.truncate(rng.below(block.len())),
                _ => {
                    let n = rng.below(4);
                    block.extend(rng.bytes(n));
                }
            }
        }
        let bad = reframe(&block, m.payload());
        // Raw mutation (CRCs left stale) must be caught too.
        let mut raw = frame.to_vec();
        let i = rng.below(raw.len());
        raw[i] ^= 1 + rng.below(255) as u8;
        assert!(decode_message(&raw).is_err());
        match decode_message(&bad) {
            Ok(Some((decoded, used))) => {
                assert_eq!(used, bad.len());
                assert_eq!(encode_message(&decoded).unwrap(), bad);
                accepted += 1;
            }
            Ok(None) => panic!("a complete frame must not ask for more bytes"),
            Err(_) => rejected += 1,
        }
    }
    // Both outcomes must be common, or the mutations are not reaching the header parser.
    assert!(
        accepted > 1000 && rejected > 1000,
        "{accepted} accepted, {rejected} rejected"
    );
}
