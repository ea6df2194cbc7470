//! The shape table's types. The table itself is generated (`generated::shapes::SHAPES`).

use crate::generated::shapes::SHAPES;

/// Index into [`SHAPES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShapeId(pub u16);

impl ShapeId {
    pub fn def(self) -> &'static ShapeDef {
        &SHAPES[self.0 as usize]
    }
}

#[derive(Debug)]
pub struct ShapeDef {
    pub name: &'static str,
    pub kind: ShapeKind,
}

#[derive(Debug)]
pub struct MemberDef {
    pub name: &'static str,
    pub shape: ShapeId,
    pub required: bool,
}

/// Constraints are the model's own: `min`/`max` are lengths for strings, blobs, lists and
/// maps, and values for numbers.
#[derive(Debug)]
pub enum ShapeKind {
    Structure {
        members: &'static [MemberDef],
        exception: bool,
        event_stream: bool,
    },
    List {
        member: ShapeId,
        min: Option<i64>,
        max: Option<i64>,
    },
    Map {
        key: ShapeId,
        value: ShapeId,
        min: Option<i64>,
        max: Option<i64>,
    },
    String {
        min: Option<i64>,
        max: Option<i64>,
        pattern: Option<&'static str>,
        enum_values: Option<&'static [&'static str]>,
    },
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    Long {
        min: Option<i64>,
        max: Option<i64>,
    },
    Blob {
        min: Option<i64>,
        max: Option<i64>,
    },
    Boolean,
    Timestamp,
}
