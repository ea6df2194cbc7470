//! The wire surface of the Kinesis API, generated from `model/kinesis.json`
//! (itself extracted from botocore by `scripts/extract_model.py`).
//!
//! - `generated::shapes`: the shape table ([`shape::ShapeDef`]) that drives type and
//!   constraint checks in the protocol crate, and one `ShapeId` constant per shape.
//! - `generated::types`: one Rust struct per structure shape, one enum per string enum.
//! - `generated::operations`: the [`Operation`] enum.
//! - `generated::errors`: [`ErrorCode`] and one error enum per operation (`PutRecordsError` …).
//! - [`value::Value`]: the format-neutral tree that JSON and CBOR decode into.
//! - [`convert`]: `FromValue`/`ToValue` between [`Value`] and the generated types.
//! - [`error::ApiError`]: a code and a message, the one error every layer hands upward.
//!
//! Regenerate with `scripts/gen_model.py`; the drift test fails when the checked-in code
//! does not match the model.

pub mod convert;
pub mod error;
#[allow(clippy::all, clippy::pedantic)]
pub mod generated;
pub mod shape;
pub mod value;

pub use convert::{FromValue, ToValue};
pub use error::ApiError;
pub use generated::errors::*;
pub use generated::operations::Operation;
pub use generated::shapes;
pub use generated::types;
pub use shape::{MemberDef, ShapeDef, ShapeId, ShapeKind};
pub use value::{Timestamp, Value};
