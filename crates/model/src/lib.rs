//! The wire surface of the Kinesis API, generated from `model/kinesis.json`
//! (itself extracted from botocore by `scripts/extract_model.py`).
//!
//! - `generated::shapes`: the shape table ([`shape::ShapeDef`]) that drives type and
//!   constraint checks in the protocol crate, and one `ShapeId` constant per shape.
//! - `generated::types`: one Rust struct per structure shape, one enum per string enum.
//! - `generated::operations`: the [`Operation`] enum.
//! - `generated::errors`: [`ErrorCode`] and one error enum per operation (`PutRecordsError` …).
//! - `generated::decode` and [`decode`]: typed decoders (serde-driven, for either wire format)
//!   and constraint checks of every request shape, and [`Input`], a decoded request.
//! - `generated::encode` and [`encode`]: typed encoders of every answer shape.
//! - [`value::Value`]: the generic tree of the reference path, which words AWS's errors for
//!   the requests the typed decoders of `tributary-protocol` do not take.
//! - [`error::ApiError`]: a code and a message, the one error every layer hands upward.
//! - [`Resources`]: the resources a request names, for authorization.
//!
//! Regenerate with `scripts/gen_model.py`; the drift test fails when the checked-in code
//! does not match the model.

pub mod decode;
pub mod encode;
pub mod error;
#[allow(clippy::all, clippy::pedantic)]
pub mod generated;
pub mod resources;
pub mod shape;
pub mod value;

pub use decode::Input;
pub use error::ApiError;
pub use generated::errors::*;
pub use generated::operations::Operation;
pub use generated::shapes;
pub use generated::types;
pub use resources::Resources;
pub use shape::{MemberDef, ShapeDef, ShapeId, ShapeKind};
pub use value::{Timestamp, Value};
