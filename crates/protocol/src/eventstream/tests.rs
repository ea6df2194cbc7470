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
        Header::new("empty", HeaderValue::String(String::new())),
        Header::string("str", "héllo, 世界"),
        Header::new("time", HeaderValue::Timestamp(-1_700_000_000_123)),
        Header::new("uuid", HeaderValue::Uuid([0xab; 16])),
        Header::new("n".repeat(MAX_HEADER_NAME_LEN), HeaderValue::Bool(true)),
        Header::string("long-value", "v".repeat(MAX_HEADER_VALUE_LEN)),
        Header::new(
            "long-bytes",
            HeaderValue::ByteArray(vec![9; MAX_HEADER_VALUE_LEN].into()),
        ),
    ]
}

#[test]
fn every_header_type_round_trips() {
    let headers = all_types();
    for payload in [&b""[..], b"payload", &[0u8; 70_000]] {
        let frame = encode_message(&headers, payload).unwrap();
        let message = decode_one(&frame);
        assert_eq!(message.headers, headers);
        assert_eq!(&message.payload[..], payload);
        assert_eq!(message.encode().unwrap(), frame);
    }
}

#[test]
fn helpers_write_what_the_sdks_read() {
    let m =
        decode_one(&event("SubscribeToShardEvent", "application/x-amz-json-1.1", b"{}").unwrap());
    assert_eq!(m.str_header(MESSAGE_TYPE), Some("event"));
    assert_eq!(m.str_header(EVENT_TYPE), Some("SubscribeToShardEvent"));
    assert_eq!(
        m.str_header(HEADER_CONTENT_TYPE),
        Some("application/x-amz-json-1.1")
    );
    assert_eq!(&m.payload[..], b"{}");

    let m = decode_one(&initial_response("application/x-amz-cbor-1.1", &[0xa0]).unwrap());
    assert_eq!(m.str_header(MESSAGE_TYPE), Some("event"));
    assert_eq!(m.str_header(EVENT_TYPE), Some("initial-response"));
    assert_eq!(&m.payload[..], &[0xa0]);

    let body = br#"{"message":"busy"}"#;
    let m = decode_one(&exception("ResourceInUseException", "application/json", body).unwrap());
    assert_eq!(m.str_header(MESSAGE_TYPE), Some("exception"));
    assert_eq!(m.str_header(EXCEPTION_TYPE), Some("ResourceInUseException"));
    assert_eq!(m.str_header(HEADER_CONTENT_TYPE), Some("application/json"));
    assert_eq!(m.header(EVENT_TYPE), None);
    assert_eq!(&m.payload[..], body);

    let m = decode_one(&error("InternalFailure", "oops").unwrap());
    assert_eq!(m.str_header(MESSAGE_TYPE), Some("error"));
    assert_eq!(m.str_header(ERROR_CODE), Some("InternalFailure"));
    assert_eq!(m.str_header(ERROR_MESSAGE), Some("oops"));
    assert!(m.payload.is_empty());
}

#[test]
fn every_proper_prefix_asks_for_more() {
    let frame = event(
        "SubscribeToShardEvent",
        "application/json",
        b"{\"Records\":[]}",
    )
    .unwrap();
    for len in 0..frame.len() {
        assert_eq!(decode_message(&frame[..len]), Ok(None), "prefix of {len}");
    }
}

#[test]
fn back_to_back_frames_decode_in_order() {
    let frames = [
        initial_response("application/json", b"{}").unwrap(),
        event("SubscribeToShardEvent", "application/json", b"{\"a\":1}").unwrap(),
        exception("ResourceNotFoundException", "application/json", b"{}").unwrap(),
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
    assert_eq!(decode_message(rest), Ok(None));
}

#[test]
fn every_single_bit_flip_is_caught_by_a_checksum() {
    let frame = encode_message(&all_types()[..11], b"some payload").unwrap();
    for bit in 0..frame.len() * 8 {
        let mut bad = frame.to_vec();
        bad[bit / 8] ^= 1 << (bit % 8);
        let err = decode_message(&bad).unwrap_err();
        if bit < 96 {
            assert!(
                matches!(err, EventStreamError::PreludeChecksum { .. }),
                "bit {bit}: {err}"
            );
        } else {
            assert!(
                matches!(err, EventStreamError::MessageChecksum { .. }),
                "bit {bit}: {err}"
            );
        }
    }
}

#[test]
fn impossible_lengths_are_refused_from_the_prelude_alone() {
    use EventStreamError::*;
    assert_eq!(decode_message(&prelude(15, 0)), Err(MessageTooShort(15)));
    assert_eq!(decode_message(&prelude(0, 0)), Err(MessageTooShort(0)));
    // A peer announcing a huge frame is refused before we buffer any of it.
    assert_eq!(
        decode_message(&prelude(u32::MAX, 0)),
        Err(MessageTooLong(u32::MAX as usize))
    );
    let over = MAX_MESSAGE_LEN as u32 + 1;
    assert_eq!(
        decode_message(&prelude(over, 0)),
        Err(MessageTooLong(over as usize))
    );
    let big = 200 * 1024;
    assert_eq!(
        decode_message(&prelude(big, big - 16 + 1)),
        Err(HeadersTooLong(big as usize - 15))
    );
    assert_eq!(
        decode_message(&prelude(40, 25)),
        Err(HeadersOverrunMessage {
            headers: 25,
            total: 40
        })
    );
    // Right at the limits, the prelude is fine and the decoder waits for the rest.
    assert_eq!(decode_message(&prelude(40, 24)), Ok(None));
    assert_eq!(
        decode_message(&prelude(MAX_MESSAGE_LEN as u32, 0)),
        Ok(None)
    );
}

#[test]
fn malformed_header_blocks_are_errors() {
    use EventStreamError::*;
    let cases: &[(&[u8], EventStreamError)] = &[
        (b"\x00", MalformedHeader("empty name")),
        (
            b"\x05abc",
            MalformedHeader("name runs past the header block"),
        ),
        (b"\x02\xff\xfe\x00", MalformedHeader("name is not UTF-8")),
        (b"\x01a", MalformedHeader("missing value type")),
        (b"\x01a\x0a", UnknownHeaderType(10)),
        (b"\x01a\xff", UnknownHeaderType(255)),
        (
            b"\x01a\x02",
            MalformedHeader("value runs past the header block"),
        ),
        (
            b"\x01a\x03\x00",
            MalformedHeader("value runs past the header block"),
        ),
        (
            b"\x01a\x04\x00\x00\x00",
            MalformedHeader("value runs past the header block"),
        ),
        (
            b"\x01a\x05\x00\x00\x00\x00\x00\x00\x00",
            MalformedHeader("value runs past the header block"),
        ),
        (
            b"\x01a\x08\x00\x00\x00\x00\x00\x00\x00",
            MalformedHeader("value runs past the header block"),
        ),
        (
            &[1, b'a', 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            MalformedHeader("value runs past the header block"),
        ),
        (b"\x01a\x07\x00", MalformedHeader("missing value length")),
        (
            b"\x01a\x07\x00\x05abcd",
            MalformedHeader("value runs past the header block"),
        ),
        (
            b"\x01a\x06\x00\x02a",
            MalformedHeader("value runs past the header block"),
        ),
        (
            b"\x01a\x07\x00\x01\xc3",
            MalformedHeader("string value is not UTF-8"),
        ),
        (b"\x01a\x00\x01a\x01", DuplicateHeader("a".into())),
    ];
    for (block, want) in cases {
        assert_eq!(
            decode_message(&reframe(block, b"")).as_ref(),
            Err(want),
            "{block:?}"
        );
    }
    // A value length past the spec's bound is refused even when the bytes are present.
    let mut block = b"\x01a\x06\x80\x00".to_vec();
    block.resize(block.len() + 0x8000, 0);
    assert_eq!(
        decode_message(&reframe(&block, b"")),
        Err(MalformedHeader("value longer than 32767 bytes"))
    );
}

#[test]
fn encoder_refuses_what_the_wire_cannot_carry() {
    use EventStreamError::*;
    let enc = |h: Header| encode_message(&[h], b"");
    assert_eq!(
        enc(Header::string("", "x")),
        Err(InvalidHeaderName(String::new()))
    );
    let long = "é".repeat(128); // 128 characters, 256 bytes
    assert_eq!(
        enc(Header::string(long.clone(), "x")),
        Err(InvalidHeaderName(long))
    );
    let value = "a".repeat(MAX_HEADER_VALUE_LEN + 1);
    assert_eq!(
        enc(Header::string("h", value)),
        Err(HeaderValueTooLong("h".into()))
    );
    let value = vec![0u8; 1 << 16]; // would wrap to a length of zero if truncated
    assert_eq!(
        enc(Header::new("h", HeaderValue::ByteArray(value.into()))),
        Err(HeaderValueTooLong("h".into()))
    );
    let dup = [Header::string("a", "1"), Header::string("a", "2")];
    assert_eq!(encode_message(&dup, b""), Err(DuplicateHeader("a".into())));

    let big: Vec<_> = (0..5)
        .map(|i| Header::string(format!("h{i}"), "v".repeat(MAX_HEADER_VALUE_LEN)))
        .collect();
    assert!(matches!(encode_message(&big, b""), Err(HeadersTooLong(_))));

    let payload = vec![0u8; MAX_MESSAGE_LEN - 16];
    let frame = encode_message(&[], &payload).unwrap();
    assert_eq!(frame.len(), MAX_MESSAGE_LEN);
    assert_eq!(decode_one(&frame).payload.len(), payload.len());
    let payload = vec![0u8; MAX_MESSAGE_LEN - 15];
    assert_eq!(
        encode_message(&[], &payload),
        Err(MessageTooLong(MAX_MESSAGE_LEN + 1))
    );
}
