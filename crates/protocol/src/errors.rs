//! Error bodies. AWS JSON services answer `{"__type": "Code", "message": "…"}`; the
//! deserializer's own `SerializationException` spells the key `Message`, and some errors
//! carry no message at all. CBOR carries the same map; for the message-less ones (the
//! front door's UnknownOperationException and SerializationException) AWS's CBOR writer uses
//! an indefinite-length map, `bf 66 __type … ff`, as recorded in kinesalite
//! test/connection.js (`assertUnknownCbor`, `assertSerializationCbor`).

use bytes::Bytes;
use ciborium_ll::Header;
use tributary_model::{ApiError, ErrorCode};

use crate::cbor::Out;
use crate::encode::{Encode, Writer};
use crate::Format;

pub fn encode_error(format: Format, e: &ApiError) -> Bytes {
    if format == Format::Cbor && e.message.is_none() {
        return bare_cbor(e.code);
    }
    crate::encode::to_body(format, &ErrorBody(e))
}

/// `{"__type": code}` as AWS's CBOR writer gives it: an indefinite-length map.
fn bare_cbor(code: ErrorCode) -> Bytes {
    let mut buf = Vec::with_capacity(40);
    let mut out = Out::new(&mut buf);
    out.head(Header::Map(None));
    out.text("__type");
    out.text(code.as_str());
    out.head(Header::Break);
    Bytes::from(buf)
}

/// The error body, written the same way as every other answer.
struct ErrorBody<'a>(&'a ApiError);

impl Encode for ErrorBody<'_> {
    fn encode<W: Writer>(&self, w: &mut W) {
        let e = self.0;
        w.begin_struct(1 + usize::from(e.message.is_some()));
        w.member("__type");
        w.string(e.code.as_str());
        if let Some(msg) = &e.message {
            w.member(message_key(e.code));
            w.string(msg);
        }
        w.end_struct();
    }
}

/// The deserializer's own `SerializationException` spells the key `Message`.
fn message_key(code: ErrorCode) -> &'static str {
    if code == ErrorCode::SerializationException {
        "Message"
    } else {
        "message"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_model::Value;

    /// The error body as a generic tree: the encoding every answer had before the typed one.
    fn error_value(e: &ApiError) -> Value {
        let mut m = vec![(
            "__type".to_string(),
            Value::Str(e.code.as_str().to_string()),
        )];
        if let Some(msg) = &e.message {
            m.push((message_key(e.code).to_string(), Value::Str(msg.clone())));
        }
        Value::Map(m)
    }

    #[test]
    fn json_error_bodies() {
        let e = ApiError::new(ErrorCode::ResourceNotFoundException, "Stream x not found");
        assert_eq!(
            &encode_error(Format::Json, &e)[..],
            br#"{"__type":"ResourceNotFoundException","message":"Stream x not found"}"#
        );
        let bare = ApiError::bare(ErrorCode::SerializationException);
        for f in [Format::Json, Format::Cbor] {
            let generic = crate::encode_output(f, &error_value(&e));
            assert_eq!(encode_error(f, &e), generic, "{f:?}");
        }
        let generic = crate::encode_output(Format::Json, &error_value(&bare));
        assert_eq!(encode_error(Format::Json, &bare), generic);
        assert_eq!(
            &encode_error(Format::Json, &bare)[..],
            br#"{"__type":"SerializationException"}"#
        );
    }

    /// The bytes kinesalite test/connection.js recorded from AWS for the two message-less
    /// CBOR errors.
    #[test]
    fn bare_cbor_errors_are_aws_bytes() {
        for (code, len_head) in [
            (ErrorCode::UnknownOperationException, &[0x78, 0x19][..]),
            (ErrorCode::SerializationException, &[0x76][..]),
        ] {
            let mut want = b"\xbf\x66__type".to_vec();
            want.extend_from_slice(len_head);
            want.extend_from_slice(code.as_str().as_bytes());
            want.push(0xff);
            assert_eq!(
                &encode_error(Format::Cbor, &ApiError::bare(code))[..],
                &want[..]
            );
        }
    }
}
