//! Error bodies. AWS JSON services answer `{"__type": "Code", "message": "…"}`; the
//! deserializer's own `SerializationException` spells the key `Message`, and some errors
//! carry no message at all. CBOR carries the same map.

use bytes::Bytes;
use tributary_model::{ApiError, ErrorCode, Value};

use crate::Format;

pub fn error_value(e: &ApiError) -> Value {
    let mut m = vec![(
        "__type".to_string(),
        Value::Str(e.code.as_str().to_string()),
    )];
    if let Some(msg) = &e.message {
        let key = if e.code == ErrorCode::SerializationException {
            "Message"
        } else {
            "message"
        };
        m.push((key.to_string(), Value::Str(msg.clone())));
    }
    Value::Map(m)
}

pub fn encode_error(format: Format, e: &ApiError) -> Bytes {
    crate::encode_output(format, &error_value(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_error_bodies() {
        let e = ApiError::new(ErrorCode::ResourceNotFoundException, "Stream x not found");
        assert_eq!(
            &encode_error(Format::Json, &e)[..],
            br#"{"__type":"ResourceNotFoundException","message":"Stream x not found"}"#
        );
        let bare = ApiError::bare(ErrorCode::SerializationException);
        assert_eq!(
            &encode_error(Format::Json, &bare)[..],
            br#"{"__type":"SerializationException"}"#
        );
    }
}
