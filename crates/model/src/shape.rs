//! The shape table's types. The table itself is generated (`generated::shapes::SHAPES`).

use std::sync::OnceLock;

use regex_lite::Regex;

use crate::generated::shapes::SHAPES;

/// Index into [`SHAPES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShapeId(pub u16);

impl ShapeId {
    pub fn def(self) -> &'static ShapeDef {
        &SHAPES[self.0 as usize]
    }

    /// Whether `s` matches this string shape's pattern, as a whole (true when it has none).
    pub fn matches(self, s: &str) -> bool {
        match self.def().kind {
            ShapeKind::String {
                pattern: Some(p), ..
            } => regex_for(self, p).is_match(s),
            _ => true,
        }
    }
}

/// Compiled patterns, one slot per shape, built on first use; a whole-string match as the
/// model intends.
fn regex_for(shape: ShapeId, pattern: &str) -> &'static Regex {
    static CACHE: OnceLock<Vec<OnceLock<Regex>>> = OnceLock::new();
    let slots = CACHE.get_or_init(|| (0..SHAPES.len()).map(|_| OnceLock::new()).collect());
    slots[shape.0 as usize].get_or_init(|| compile(pattern))
}

/// The model's patterns are fixed data, all checked by `every_model_pattern_compiles`.
fn compile(pattern: &str) -> Regex {
    let p = pattern.strip_prefix('^').unwrap_or(pattern);
    let p = p.strip_suffix('$').unwrap_or(p);
    Regex::new(&format!("^(?:{p})$")).unwrap_or_else(|_| Regex::new(".*").expect("trivial regex"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_pattern_compiles() {
        for def in SHAPES.iter() {
            if let ShapeKind::String {
                pattern: Some(p), ..
            } = def.kind
            {
                let p2 = p.strip_prefix('^').unwrap_or(p);
                let p2 = p2.strip_suffix('$').unwrap_or(p2);
                assert!(
                    Regex::new(&format!("^(?:{p2})$")).is_ok(),
                    "{}: {p}",
                    def.name
                );
            }
        }
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
        /// In the order AWS's validator visits them, which is the order its messages list
        /// them in (`scripts/gen_model.py` derives it); not the model's order.
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
        /// In the order AWS prints them in "enum value set: [...]".
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
