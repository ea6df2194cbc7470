//! Error bodies. AWS JSON services answer `{"__type": "Code", "message": "…"}`; the
//! deserializer's own `SerializationException` spells the key `Message`, and some errors
//! carry no message at all. CBOR carries the same map.

use bytes::Bytes;
use tributary_model::{ApiError, ErrorCode};

use crate::encode::{Encode, Writer};
use crate::Format;

pub fn encode_error(format: Format, e: &ApiError) -> Bytes {
    crate::encode::to_body(format, &ErrorBody(e))
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
            for err in [&e, &bare] {
                let generic = crate::encode_output(f, &error_value(err));
                assert_eq!(encode_error(f, err), generic, "{f:?} {err:?}");
            }
        }
        assert_eq!(
            &encode_error(Format::Json, &bare)[..],
            br#"{"__type":"SerializationException"}"#
        );
    }
}
