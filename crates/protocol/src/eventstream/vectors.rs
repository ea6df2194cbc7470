//! Published event-stream test frames with known CRCs, decoded and re-encoded byte for byte.
//!
//! - botocore `tests/unit/test_eventstream.py` (its positive cases mirror the AWS CRT's
//!   `aws-c-event-stream` deserializer tests; `PAYLOAD_ONE_STR_HEADER` and `PAYLOAD_NO_HEADERS`
//!   are the CRT's own messages).
//! - aws-smithy-eventstream 0.61 `test_data/` (smithy-rs, the Rust SDK's codec).

use aws_smithy_types::DateTime;

use super::tests::{b, decode_one, reframe, string as str};
use super::*;

const EMPTY_MESSAGE: &[u8] = b"\x00\x00\x00\x10\x00\x00\x00\x00\x05\xc2H\xeb}\x98\xc8\xff";
const INT8_HEADER: &[u8] =
    b"\x00\x00\x00\x17\x00\x00\x00\x07)\x86\x01X\x04byte\x02\xff\xc2\xf8i\xdc";
const INT16_HEADER: &[u8] =
    b"\x00\x00\x00\x19\x00\x00\x00\x09q\x0e\x92>\x05short\x03\xff\xff\xb2|\xb6\xcc";
const INT32_HEADER: &[u8] = b"\x00\x00\x00\x1d\x00\x00\x00\x0d\x83\xe3\xf0\xe7\x07integer\x04\xff\xff\xff\xff\x8b\x8e\x12\xeb";
const INT64_HEADER: &[u8] = b"\x00\x00\x00\x1e\x00\x00\x00\x0e]J\xdb\x8d\x04long\x05\xff\xff\xff\xff\xff\xff\xff\xffK\xc22\xda";
const PAYLOAD_NO_HEADERS: &[u8] = b"\x00\x00\x00\x1d\x00\x00\x00\x00\xfdR\x8cZ{'foo':'bar'}\xc3e96";
const PAYLOAD_ONE_STR_HEADER: &[u8] = b"\x00\x00\x00=\x00\x00\x00 \x07\xfd\x83\x96\x0ccontent-type\x07\x00\x10application/json{'foo':'bar'}\x8d\x9c\x08\xb1";
const ALL_HEADERS_TYPES: &[u8] = b"\x00\x00\x00b\x00\x00\x00R\x03\xb5\xcb\x9c\x010\x00\x011\x01\x012\x02\x02\x013\x03\x00\x03\x014\x04\x00\x00\x00\x04\x015\x05\x00\x00\x00\x00\x00\x00\x00\x05\x016\x06\x00\x05bytes\x017\x07\x00\x04utf8\x018\x08\x00\x00\x00\x00\x00\x00\x00\x08\x019\x090123456789abcdefc56q";
const ERROR_EVENT_MESSAGE: &[u8] = b"\x00\x00\x00R\x00\x00\x00B\xbf#c~\x0d:message-type\x07\x00\x05error\x0b:error-code\x07\x00\x04code\x0e:error-message\x07\x00\x07messagekl\xea=";
const INITIAL_RESPONSE: &[u8] = b"\x00\x00\x00~\x00\x00\x00O\xc5\xa3\xdd\xc6\x0d:message-type\x07\x00\x05event\x0b:event-type\x07\x00\x10initial-response\x0d:content-type\x07\x00\x09text/json{\"InitialResponse\": \"sometext\"}\xf6\x98$\x83";
const CORRUPTED_HEADER_LENGTH: &[u8] = b"\x00\x00\x00=\xff\x00\x01\x02\x07\xfd\x83\x96\x0ccontent-type\x07\x00\x10application/json{'foo':'bar'}\x8d\x9c\x08\xb1";
const CORRUPTED_HEADERS: &[u8] = b"\x00\x00\x00=\x00\x00\x00 \x07\xfd\x83\x96\x0ccontent+type\x07\x00\x10application/json{'foo':'bar'}\x8d\x9c\x08\xb1";
const CORRUPTED_LENGTH: &[u8] = b"\x01\x00\x00\x1d\x00\x00\x00\x00\xfdR\x8cZ{'foo':'bar'}\xc3e96";
const CORRUPTED_PAYLOAD: &[u8] =
    b"\x00\x00\x00\x1d\x00\x00\x00\x00\xfdR\x8cZ{'foo':'bar'\x8d\xc3e96";
const DUPLICATE_HEADER: &[u8] =
    b"\x00\x00\x00$\x00\x00\x00\x14K\xb9\x82\xd0\x04test\x04asdf\x04test\x04asdf\xf3\xf4uc";
const INVALID_HEADERS_LENGTH: &[u8] = b"\x00\x00\x00=\xff\x00\x01\x02\x15\x83\xf5\xc2\x0ccontent-type\x07\x00\x10application/json{'foo':'bar'}/7\x7f]";
const SMITHY_VALID_WITH_ALL_HEADERS_AND_PAYLOAD: &[u8] = b"\x00\x00\x00\x96\x00\x00\x00z\x8b\xb4\x95\xfb\x04true\x00\x05false\x01\x04byte\x022\x05short\x03N \x03int\x04\x00\x07\xa1 \x04long\x05\x00\x00\x00\x0b\xa4;t\x00\x05bytes\x06\x00\x0asome bytes\x03str\x07\x00\x08some str\x04time\x08\x00\x00\x00\x01*\x05\xf2\x00\x04uuid\x09\xb7\x9b\xc9\x14\xde!N\x13\xb8\xb2\xbcG\xe8[\x7f\x0bsome payload\x01\xa0X`";
const SMITHY_VALID_EMPTY_PAYLOAD: &[u8] =
    b"\x00\x00\x00\x1f\x00\x00\x00\x0f\x17-\xc2\xab\x0bsome-header\x03\x01\xf4\x93<\\\xad";
const SMITHY_VALID_NO_HEADERS: &[u8] =
    b"\x00\x00\x00$\x00\x00\x00\x00QcV\xadanother test payload\x8d\xf8\x0ee";
const SMITHY_INVALID_HEADERS_LENGTH: &[u8] = b"\x00\x00\x00Y\x00\x00\x00MXLO\xfe\x04true\x00\x05false\x01\x04byte\x022\x05short\x03N \x03int\x04\x00\x07\xa1 \x04long\x05\x00\x00\x00\x0b\xa4;t\x00\x05bytes\x06\x00\x0asome bytes\x03str\x07\xff";

fn h(name: &'static str, value: HeaderValue) -> Header {
    Header::new(name, value)
}

fn bytes(b: &'static [u8]) -> HeaderValue {
    HeaderValue::ByteArray(Bytes::from_static(b))
}

/// Each frame with the headers and payload it carries.
fn positive_cases() -> Vec<(&'static [u8], Vec<Header>, &'static [u8])> {
    let foo = &b"{'foo':'bar'}"[..];
    vec![
        (EMPTY_MESSAGE, vec![], b""),
        (INT8_HEADER, vec![h("byte", HeaderValue::Byte(-1))], b""),
        (INT16_HEADER, vec![h("short", HeaderValue::Int16(-1))], b""),
        (
            INT32_HEADER,
            vec![h("integer", HeaderValue::Int32(-1))],
            b"",
        ),
        (INT64_HEADER, vec![h("long", HeaderValue::Int64(-1))], b""),
        (PAYLOAD_NO_HEADERS, vec![], foo),
        (
            PAYLOAD_ONE_STR_HEADER,
            vec![h("content-type", str("application/json"))],
            foo,
        ),
        (
            ALL_HEADERS_TYPES,
            vec![
                h("0", HeaderValue::Bool(true)),
                h("1", HeaderValue::Bool(false)),
                h("2", HeaderValue::Byte(2)),
                h("3", HeaderValue::Int16(3)),
                h("4", HeaderValue::Int32(4)),
                h("5", HeaderValue::Int64(5)),
                h("6", bytes(b"bytes")),
                h("7", str("utf8")),
                h("8", HeaderValue::Timestamp(DateTime::from_millis(8))),
                h(
                    "9",
                    HeaderValue::Uuid(u128::from_be_bytes(*b"0123456789abcdef")),
                ),
            ],
            b"",
        ),
        (
            ERROR_EVENT_MESSAGE,
            vec![
                h(":message-type", str("error")),
                h(":error-code", str("code")),
                h(":error-message", str("message")),
            ],
            b"",
        ),
        (
            INITIAL_RESPONSE,
            vec![
                h(":message-type", str("event")),
                h(":event-type", str("initial-response")),
                h(":content-type", str("text/json")),
            ],
            br#"{"InitialResponse": "sometext"}"#,
        ),
        (
            SMITHY_VALID_WITH_ALL_HEADERS_AND_PAYLOAD,
            vec![
                h("true", HeaderValue::Bool(true)),
                h("false", HeaderValue::Bool(false)),
                h("byte", HeaderValue::Byte(50)),
                h("short", HeaderValue::Int16(20_000)),
                h("int", HeaderValue::Int32(500_000)),
                h("long", HeaderValue::Int64(50_000_000_000)),
                h("bytes", bytes(b"some bytes")),
                h("str", str("some str")),
                h(
                    "time",
                    HeaderValue::Timestamp(DateTime::from_millis(5_000_000_000)),
                ),
                h(
                    "uuid",
                    HeaderValue::Uuid(0xb79bc914_de21_4e13_b8b2_bc47e85b7f0b),
                ),
            ],
            b"some payload",
        ),
        (
            SMITHY_VALID_EMPTY_PAYLOAD,
            vec![h("some-header", HeaderValue::Int16(500))],
            b"",
        ),
        (SMITHY_VALID_NO_HEADERS, vec![], b"another test payload"),
    ]
}

#[test]
fn published_frames_decode_and_reencode_byte_for_byte() {
    let mut stream = Vec::new();
    for (frame, headers, payload) in positive_cases() {
        let message = decode_one(frame);
        assert_eq!(message, Message::new_from_parts(headers, payload));
        assert_eq!(&encode_message(&message).unwrap()[..], frame);
        stream.extend_from_slice(frame);
    }
    // All of them back to back in one buffer, as botocore's test does.
    let mut rest = &stream[..];
    for (frame, _, _) in positive_cases() {
        let (_, used) = decode_message(rest).unwrap().unwrap();
        assert_eq!(used, frame.len());
        rest = &rest[used..];
    }
    assert!(rest.is_empty());
}

#[test]
fn initial_response_reproduces_the_published_frame() {
    let initial = initial_response("text/json", &b(br#"{"InitialResponse": "sometext"}"#));
    assert_eq!(&initial.unwrap()[..], INITIAL_RESPONSE);
}

/// The codec's own refusals carry only its wording, so checksum failures are recognised by it.
fn is_checksum(err: &EventStreamError) -> bool {
    matches!(err, EventStreamError::Frame(e) if e.to_string().contains("checksum"))
}

#[test]
fn published_bad_frames_are_refused() {
    use EventStreamError::*;
    type Want = Box<dyn Fn(&EventStreamError) -> bool>;
    let prelude_crc = |computed, received| -> Want {
        Box::new(
            move |e| matches!(e, PreludeChecksum { computed: c, received: r } if (*c, *r) == (computed, received)),
        )
    };
    let cases: Vec<(&[u8], Want)> = vec![
        (CORRUPTED_LENGTH, prelude_crc(0x31f8_8cc4, 0xfd52_8c5a)),
        (
            CORRUPTED_HEADER_LENGTH,
            prelude_crc(0x1583_f5c2, 0x07fd_8396),
        ),
        (CORRUPTED_HEADERS, Box::new(is_checksum)),
        (CORRUPTED_PAYLOAD, Box::new(is_checksum)),
        // Accepted by the codec: refused by `check_headers`.
        (
            DUPLICATE_HEADER,
            Box::new(|e| matches!(e, DuplicateHeader(n) if n == "test")),
        ),
        // Valid CRCs, but a header block of almost 4 GiB.
        (
            INVALID_HEADERS_LENGTH,
            Box::new(|e| matches!(e, HeadersTooLong(0xff00_0102))),
        ),
        // botocore's INVALID_PAYLOAD_LENGTH: a 24 MiB + 1 payload. Its prelude is enough.
        (
            b"\x01\x80\x00\x21\x00\x00\x00\x00\xdd\x3f\x33\xb1",
            Box::new(|e| matches!(e, MessageTooLong(0x0180_0021))),
        ),
        // 77 bytes of headers in an 89-byte frame.
        (
            SMITHY_INVALID_HEADERS_LENGTH,
            Box::new(|e| matches!(e, Frame(_))),
        ),
    ];
    for (frame, want) in cases {
        let err = decode_message(frame).unwrap_err();
        assert!(want(&err), "{frame:?}: {err}");
    }
}

/// smithy-rs's invalid frames are its valid one with one field changed. Rebuilt here from
/// that frame, and (for the header cases) re-checksummed so the header parser sees them.
#[test]
fn smithy_invalid_frames_are_refused() {
    let valid = SMITHY_VALID_WITH_ALL_HEADERS_AND_PAYLOAD;
    let patched = |at: usize, with: &[u8]| {
        let mut v = valid.to_vec();
        v[at..at + with.len()].copy_from_slice(with);
        v
    };
    let deadbeef = 0xdead_beef_u32.to_be_bytes();
    assert!(matches!(
        decode_message(&patched(8, &deadbeef)),
        Err(EventStreamError::PreludeChecksum {
            computed: 0x8bb4_95fb,
            received: 0xdead_beef
        })
    ));
    let err = decode_message(&patched(valid.len() - 4, &deadbeef)).unwrap_err();
    assert!(is_checksum(&err), "{err}");

    let block = &valid[12..12 + 122];
    let payload = b"some payload";
    let find = |needle: &[u8]| {
        block
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    };
    let rebuilt = |at: usize, with: &[u8]| {
        let mut b = block.to_vec();
        b[at..at + with.len()].copy_from_slice(with);
        decode_message(&reframe(&b, payload))
    };
    for (at, with) in [
        // invalid_header_value_type: "byte" typed 0x60.
        (find(b"byte\x02") + 4, &b"\x60"[..]),
        // invalid_header_string_value_length: "str" claims 0xffff bytes.
        (find(b"str\x07") + 4, b"\xff\xff"),
        // invalid_header_name_length: "byte" claims a 255-byte name.
        (find(b"\x04byte"), b"\xff"),
    ] {
        assert!(
            matches!(rebuilt(at, with), Err(EventStreamError::Frame(_))),
            "{with:?}"
        );
    }
}
