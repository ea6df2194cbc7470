use aws_smithy_eventstream::smithy::parse_response_headers;
use aws_smithy_types::DateTime;

use super::*;

/// Builds a frame around raw header bytes with correct lengths and CRCs, bypassing the
/// encoder's checks, so the header parser can be fed anything.
pub(super) fn reframe(header_block: &[u8], payload: &[u8]) -> Vec<u8> {
    let total = 16 + header_block.len() + payload.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(header_block.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(&out).to_be_bytes());
    out.extend_from_slice(header_block);
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc32fast::hash(&out).to_be_bytes());
    out
}

/// A prelude with a valid CRC announcing the given lengths, and nothing after it.
fn prelude(total: u32, headers: u32) -> Vec<u8> {
    let mut out = total.to_be_bytes().to_vec();
    out.extend_from_slice(&headers.to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(&out).to_be_bytes());
    out
}

/// Decodes `buf`, which must be exactly one frame.
pub(super) fn decode_one(buf: &[u8]) -> Message {
    let (message, used) = decode_message(buf).unwrap().expect("a complete frame");
    assert_eq!(used, buf.len());
    message
}

pub(super) fn b(bytes: &'static [u8]) -> Bytes {
    Bytes::from_static(bytes)
}

pub(super) fn string(s: &str) -> HeaderValue {
    HeaderValue::String(s.to_owned().into())
}

fn all_types() -> Vec<Header> {
    vec![
        Header::new("true", HeaderValue::Bool(true)),
        Header::new("false", HeaderValue::Bool(false)),
        Header::new("byte", HeaderValue::Byte(i8::MIN)),
        Header::new("short", HeaderValue::Int16(i16::MAX)),
        Header::new("int", HeaderValue::Int32(-500_000)),
        Header::new("long", HeaderValue::Int64(i64::MIN)),
        Header::new(
            "bytes",
            HeaderValue::ByteArray(Bytes::from_static(&[0, 255, 7])),
        ),
        Header::new("empty", string("")),
        Header::new("str", string("héllo, 世界")),
        Header::new(
            "time",
            HeaderValue::Timestamp(DateTime::from_millis(-1_700_000_000_123)),
        ),
        Header::new("uuid", HeaderValue::Uuid(u128::MAX / 3)),
        Header::new("n".repeat(255), HeaderValue::Bool(true)),
        Header::new("long-value", string(&"v".repeat(MAX_HEADER_VALUE_LEN))),
        Header::new(
            "long-bytes",
            HeaderValue::ByteArray(vec![9; MAX_HEADER_VALUE_LEN].into()),
        ),
    ]
}

#[test]
fn every_header_type_round_trips() {
    for payload in [&b""[..], b"payload", &[0u8; 70_000]] {
        let message = Message::new_from_parts(all_types(), payload.to_vec());
        let frame = encode_message(&message).unwrap();
        assert_eq!(decode_one(&frame), message);
    }
    // The extremes of a timestamp's milliseconds survive the codec's seconds-and-nanos form.
    for ms in [i64::MIN, -1, 0, i64::MAX] {
        let time = Header::new("t", HeaderValue::Timestamp(DateTime::from_millis(ms)));
        let frame = encode_message(&Message::new(Bytes::new()).add_header(time)).unwrap();
        assert_eq!(&frame[15..23], &ms.to_be_bytes());
        assert_eq!(encode_message(&decode_one(&frame)).unwrap(), frame);
    }
}

/// Read back with the header parser the Rust SDK itself runs on each message.
#[test]
fn helpers_write_what_the_sdks_read() {
    let frame = event(
        "SubscribeToShardEvent",
        "application/x-amz-json-1.1",
        &b(b"{}"),
    );
    let m = decode_one(&frame.unwrap());
    let h = parse_response_headers(&m).unwrap();
    assert_eq!(h.message_type.as_str(), "event");
    assert_eq!(h.smithy_type.as_str(), "SubscribeToShardEvent");
    assert_eq!(h.content_type(), Some("application/x-amz-json-1.1"));
    assert_eq!(&m.payload()[..], b"{}");

    let m = decode_one(&initial_response("application/x-amz-cbor-1.1", &b(&[0xa0])).unwrap());
    let h = parse_response_headers(&m).unwrap();
    assert_eq!(h.message_type.as_str(), "event");
    assert_eq!(h.smithy_type.as_str(), "initial-response");
    assert_eq!(&m.payload()[..], &[0xa0]);

    let body = br#"{"message":"busy"}"#;
    let m = decode_one(&exception("ResourceInUseException", "application/json", &b(body)).unwrap());
    let h = parse_response_headers(&m).unwrap();
    assert_eq!(h.message_type.as_str(), "exception");
    assert_eq!(h.smithy_type.as_str(), "ResourceInUseException");
    assert_eq!(h.content_type(), Some("application/json"));
    assert_eq!(str_header(&m, MESSAGE_TYPE), Some("exception"));
    assert_eq!(str_header(&m, EVENT_TYPE), None);
    assert_eq!(&m.payload()[..], body);
}

#[test]
fn every_proper_prefix_asks_for_more() {
    let frame = event(
        "SubscribeToShardEvent",
        "application/json",
        &b(b"{\"Records\":[]}"),
    )
    .unwrap();
    for len in 0..frame.len() {
        assert!(
            matches!(decode_message(&frame[..len]), Ok(None)),
            "prefix of {len}"
        );
    }
}

#[test]
fn back_to_back_frames_decode_in_order() {
    let frames = [
        initial_response("application/json", &b(b"{}")).unwrap(),
        event(
            "SubscribeToShardEvent",
            "application/json",
            &b(b"{\"a\":1}"),
        )
        .unwrap(),
        exception("ResourceNotFoundException", "application/json", &b(b"{}")).unwrap(),
    ];
    let mut stream = frames.concat();
    stream.extend_from_slice(&frames[0][..7]); // the start of a fourth
    let mut rest = &stream[..];
    for frame in &frames {
        let (message, used) = decode_message(rest).unwrap().unwrap();
        assert_eq!(used, frame.len());
        assert_eq!(message, decode_one(frame));
        rest = &rest[used..];
    }
    assert!(matches!(decode_message(rest), Ok(None)));
}

/// Shows why the prelude's CRC is checked before waiting for the frame: a flipped length bit
/// would otherwise leave the decoder waiting for bytes instead of reporting the corruption.
#[test]
fn every_single_bit_flip_is_caught() {
    let message = Message::new_from_parts(all_types()[..11].to_vec(), &b"some payload"[..]);
    let frame = encode_message(&message).unwrap();
    for bit in 0..frame.len() * 8 {
        let mut bad = frame.to_vec();
        bad[bit / 8] ^= 1 << (bit % 8);
        match decode_message(&bad) {
            Err(EventStreamError::PreludeChecksum { .. }) if bit < 96 => {}
            Err(EventStreamError::Frame(_)) if bit >= 96 => {}
            other => panic!("bit {bit}: {other:?}"),
        }
    }
}

#[test]
fn impossible_lengths_are_refused_from_the_prelude_alone() {
    use EventStreamError::*;
    // A peer announcing a huge frame is refused before we buffer any of it.
    let too_long = |total: u32, headers| matches!(decode_message(&prelude(total, headers)), Err(MessageTooLong(n)) if n == total as usize);
    assert!(too_long(u32::MAX, 0));
    assert!(too_long(MAX_MESSAGE_LEN as u32 + 1, 0));
    let big = 200 * 1024;
    assert!(matches!(
        decode_message(&prelude(big, big - 15)),
        Err(HeadersTooLong(n)) if n == big as usize - 15
    ));
    // Right at the limits, the prelude is fine and the decoder waits for the rest.
    let max = MAX_MESSAGE_LEN as u32;
    assert!(matches!(decode_message(&prelude(max, 0)), Ok(None)));
    let headers = MAX_HEADERS_LEN as u32;
    assert!(matches!(decode_message(&prelude(max, headers)), Ok(None)));
    // Lengths that contradict each other are the codec's to refuse once the frame is in.
    for (total, headers) in [(0, 0), (12, 0), (15, 0), (40, 25), (40, 1)] {
        let mut frame = prelude(total, headers);
        frame.resize(frame.len().max(total as usize), 0);
        assert!(
            matches!(decode_message(&frame), Err(Frame(_))),
            "{total} {headers}"
        );
    }
}

#[test]
fn malformed_header_blocks_are_errors() {
    let cases: &[&[u8]] = &[
        b"\x00",
        b"\x05abc",
        b"\x02\xff\xfe\x00",
        b"\x01a",
        b"\x01a\x0a",
        b"\x01a\xff",
        b"\x01a\x02",
        b"\x01a\x03\x00",
        b"\x01a\x04\x00\x00\x00",
        b"\x01a\x05\x00\x00\x00\x00\x00\x00\x00",
        b"\x01a\x08\x00\x00\x00\x00\x00\x00\x00",
        &[1, b'a', 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        b"\x01a\x07\x00",
        b"\x01a\x07\x00\x05abcd",
        b"\x01a\x06\x00\x02a",
        b"\x01a\x07\x00\x01\xc3",
    ];
    for block in cases {
        for payload in [&b""[..], b"a payload the parser must not read into"] {
            assert!(
                matches!(
                    decode_message(&reframe(block, payload)),
                    Err(EventStreamError::Frame(_))
                ),
                "{block:?} {payload:?}"
            );
        }
    }
    // What the codec accepts and we refuse (see `check_headers`).
    assert!(matches!(
        decode_message(&reframe(b"\x01a\x00\x01a\x01", b"")),
        Err(EventStreamError::DuplicateHeader(name)) if name == "a"
    ));
    let mut block = b"\x01a\x06\x80\x00".to_vec();
    block.resize(block.len() + 0x8000, 0);
    assert!(matches!(
        decode_message(&reframe(&block, b"")),
        Err(EventStreamError::HeaderValueTooLong(name)) if name == "a"
    ));
}

#[test]
fn encoder_refuses_what_some_client_cannot_read() {
    use EventStreamError::*;
    let enc = |h: Header| encode_message(&Message::new(Bytes::new()).add_header(h));
    assert!(matches!(
        enc(Header::new("é".repeat(128), string("x"))),
        Err(Frame(_))
    ));
    let value = "a".repeat(MAX_HEADER_VALUE_LEN + 1);
    assert!(matches!(
        enc(Header::new("h", string(&value))),
        Err(HeaderValueTooLong(_))
    ));
    let value = vec![0u8; 1 << 16]; // would wrap to a length of zero if truncated
    let h = Header::new("h", HeaderValue::ByteArray(value.into()));
    assert!(matches!(enc(h), Err(HeaderValueTooLong(_))));
    let dup = vec![Header::new("a", string("1")), Header::new("a", string("2"))];
    let dup = encode_message(&Message::new_from_parts(dup, Bytes::new()));
    assert!(matches!(dup, Err(DuplicateHeader(name)) if name == "a"));

    let big: Vec<_> = (0..5)
        .map(|i| Header::new(format!("h{i}"), string(&"v".repeat(MAX_HEADER_VALUE_LEN))))
        .collect();
    let big = encode_message(&Message::new_from_parts(big, Bytes::new()));
    assert!(matches!(big, Err(HeadersTooLong(_))));

    let payload = vec![0u8; MAX_MESSAGE_LEN - 16];
    let frame = encode_message(&Message::new(payload.clone())).unwrap();
    assert_eq!(frame.len(), MAX_MESSAGE_LEN);
    assert_eq!(decode_one(&frame).payload().len(), payload.len());
    let payload = vec![0u8; MAX_MESSAGE_LEN - 15];
    assert!(matches!(
        encode_message(&Message::new(payload)),
        Err(MessageTooLong(n)) if n == MAX_MESSAGE_LEN + 1
    ));
}
