//! KMS's model validation answers: every broken constraint, in member order, as
//! `N validation error(s) detected: Value 'v' at 'member' failed to satisfy constraint: …`.
//! Wording: KMS answers as in stelligent/mu issue #382 ("1 validation error detected: Value
//! '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal
//! to 1"): member paths in lowerCamelCase. Blobs show no value (moto PR #4441, checked
//! against AWS: "Value at 'plaintext' failed to satisfy constraint: ...").
//! The bounds used here are checked against model/kms.json by a test.

#[derive(Debug, Default)]
pub(crate) struct Check {
    errors: Vec<String>,
}

/// `(member, min, max)` of every length or range constraint this module enforces, for the
/// model test.
pub(crate) const BOUNDS: &[(&str, &str, i64, i64)] = &[
    ("KeyIdType", "KeyId", 1, 2048),
    ("DescriptionType", "Description", 0, 8192),
    ("PolicyType", "Policy", 1, 131072),
    ("LimitType", "Limit", 1, 1000),
    ("MarkerType", "Marker", 1, 1024),
    ("AliasNameType", "AliasName", 1, 256),
    ("PendingWindowInDaysType", "PendingWindowInDays", 1, 365),
    ("PlaintextType", "Plaintext", 1, 4096),
    ("CiphertextType", "CiphertextBlob", 1, 6144),
    ("NumberOfBytesType", "NumberOfBytes", 1, 1024),
    ("GrantTokenList", "GrantTokens", 0, 10),
];

pub(crate) fn bound(shape: &str) -> (i64, i64) {
    BOUNDS
        .iter()
        .find(|(s, ..)| *s == shape)
        .map(|(_, _, min, max)| (*min, *max))
        .expect("a known shape")
}

fn camel(member: &str) -> String {
    let mut chars = member.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

impl Check {
    pub fn required<T>(&mut self, member: &str, value: &Option<T>) {
        if value.is_none() {
            self.errors.push(format!(
                "Value null at '{}' failed to satisfy constraint: Member must not be null",
                camel(member)
            ));
        }
    }

    /// Length of a string member (in characters, as Java counts them closely enough here).
    pub fn length(&mut self, member: &str, shape: &str, value: Option<&str>) {
        let Some(value) = value else { return };
        let (min, max) = bound(shape);
        let len = value.chars().count() as i64;
        self.length_rule(member, Some(value), len, min, max);
    }

    /// Length of a blob member: the value is not shown.
    pub fn blob_length(&mut self, member: &str, shape: &str, value: Option<&[u8]>) {
        let Some(value) = value else { return };
        let (min, max) = bound(shape);
        self.length_rule(member, None, value.len() as i64, min, max);
    }

    pub fn list_length(&mut self, member: &str, shape: &str, value: Option<&[String]>) {
        let Some(value) = value else { return };
        let (min, max) = bound(shape);
        let shown = format!("[{}]", value.join(", "));
        self.length_rule(member, Some(&shown), value.len() as i64, min, max);
    }

    fn length_rule(&mut self, member: &str, shown: Option<&str>, len: i64, min: i64, max: i64) {
        if len < min {
            self.push(
                member,
                shown,
                &format!("Member must have length greater than or equal to {min}"),
            );
        } else if len > max {
            self.push(
                member,
                shown,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    pub fn range(&mut self, member: &str, shape: &str, value: Option<i64>) {
        let Some(value) = value else { return };
        let (min, max) = bound(shape);
        let shown = value.to_string();
        if value < min {
            self.push(
                member,
                Some(&shown),
                &format!("Member must have value greater than or equal to {min}"),
            );
        } else if value > max {
            self.push(
                member,
                Some(&shown),
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    pub fn one_of(&mut self, member: &str, value: Option<&str>, allowed: &[&str]) {
        let Some(value) = value else { return };
        if !allowed.contains(&value) {
            let rule = format!(
                "Member must satisfy enum value set: [{}]",
                allowed.join(", ")
            );
            self.push(member, Some(value), &rule);
        }
    }

    pub fn pattern(
        &mut self,
        member: &str,
        value: Option<&str>,
        ok: fn(char) -> bool,
        shown: &str,
    ) {
        let Some(value) = value else { return };
        if value.is_empty() || !value.chars().all(ok) {
            let rule = format!("Member must satisfy regular expression pattern: {shown}");
            self.push(member, Some(value), &rule);
        }
    }

    fn push(&mut self, member: &str, shown: Option<&str>, rule: &str) {
        let path = camel(member);
        self.errors.push(match shown {
            Some(v) => format!("Value '{v}' at '{path}' failed to satisfy constraint: {rule}"),
            None => format!("Value at '{path}' failed to satisfy constraint: {rule}"),
        });
    }

    /// The ValidationException message, when a constraint broke.
    pub fn finish(self) -> Result<(), String> {
        match self.errors.len() {
            0 => Ok(()),
            1 => Err(format!("1 validation error detected: {}", self.errors[0])),
            n => Err(format!(
                "{n} validation errors detected: {}",
                self.errors.join("; ")
            )),
        }
    }
}
