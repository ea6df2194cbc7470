//! Conversions between [`Value`] and Rust types. `FromValue` is lenient: it runs only on
//! values that passed the protocol's type check, so a mismatch cannot happen there and
//! falls back to the default.

use crate::value::{Timestamp, Value};
use bytes::Bytes;

pub trait FromValue: Sized {
    fn from_value(v: Value) -> Self;
}

pub trait ToValue {
    fn to_value(&self) -> Value;
}

impl FromValue for String {
    fn from_value(v: Value) -> Self {
        match v {
            Value::Str(s) => s,
            _ => String::new(),
        }
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Str(self.clone())
    }
}

impl FromValue for i32 {
    fn from_value(v: Value) -> Self {
        match v {
            Value::Int(i) => i.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
            _ => 0,
        }
    }
}
impl ToValue for i32 {
    fn to_value(&self) -> Value {
        Value::Int(*self as i64)
    }
}

impl FromValue for i64 {
    fn from_value(v: Value) -> Self {
        match v {
            Value::Int(i) => i,
            _ => 0,
        }
    }
}
impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}

impl FromValue for bool {
    fn from_value(v: Value) -> Self {
        matches!(v, Value::Bool(true))
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl FromValue for Bytes {
    fn from_value(v: Value) -> Self {
        match v {
            Value::Blob(b) => b,
            _ => Bytes::new(),
        }
    }
}
impl ToValue for Bytes {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl FromValue for Timestamp {
    fn from_value(v: Value) -> Self {
        match v {
            Value::Timestamp(t) => t,
            _ => Timestamp::default(),
        }
    }
}
impl ToValue for Timestamp {
    fn to_value(&self) -> Value {
        Value::Timestamp(*self)
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(v: Value) -> Self {
        match v {
            Value::List(items) => items.into_iter().map(T::from_value).collect(),
            _ => Vec::new(),
        }
    }
}
impl<T: ToValue> ToValue for Vec<T> {
    fn to_value(&self) -> Value {
        Value::List(self.iter().map(ToValue::to_value).collect())
    }
}

/// Maps (tag maps) keep their entries in order; keys are strings in this model.
impl<V: FromValue> FromValue for Vec<(String, V)> {
    fn from_value(v: Value) -> Self {
        match v {
            Value::Map(entries) => entries
                .into_iter()
                .map(|(k, v)| (k, V::from_value(v)))
                .collect(),
            _ => Vec::new(),
        }
    }
}
impl<V: ToValue> ToValue for Vec<(String, V)> {
    fn to_value(&self) -> Value {
        Value::Map(
            self.iter()
                .map(|(k, v)| (k.clone(), v.to_value()))
                .collect(),
        )
    }
}
