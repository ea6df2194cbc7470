//! IAM wildcards: `*` matches any run of characters (including none), `?` exactly one. Actions
//! compare case-insensitively, resources and condition values case-sensitively.

/// Whether `text` matches `pattern`. Iterative with one backtrack point, so a pattern of many
/// stars costs O(len(pattern) * len(text)) at worst, never exponential time.
pub(crate) fn matches(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| {
        if ignore_case {
            a.to_lowercase().eq(b.to_lowercase())
        } else {
            a == b
        }
    };
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            // Let the last star swallow one more character and retry.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// ARN matching as `ArnLike` does it: the six colon-separated parts compared one by one, so a
/// `*` in one part never spills into the next (the resource part keeps its own colons).
pub(crate) fn arn_matches(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    p.len() == 6 && a.len() == 6 && p.iter().zip(&a).all(|(p, a)| matches(p, a, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_question_marks() {
        assert!(matches("*", "", false));
        assert!(matches("kinesis:Put*", "kinesis:PutRecords", false));
        assert!(matches("kinesis:put*", "kinesis:PutRecords", true));
        assert!(!matches("kinesis:put*", "kinesis:PutRecords", false));
        assert!(matches("kinesis:Get?ecords", "kinesis:GetRecords", false));
        assert!(!matches("kinesis:Get?ecords", "kinesis:GetRRecords", false));
        assert!(matches("a*b*c", "aXXbYYc", false));
        assert!(!matches("a*b*c", "aXXbYY", false));
        assert!(matches(
            "*stream/*",
            "arn:aws:kinesis:us-east-1:1:stream/s",
            false
        ));
        assert!(!matches(&"*a".repeat(20), &"a".repeat(19), false));
    }

    #[test]
    fn arns_match_part_by_part() {
        let arn = "arn:aws:kinesis:us-east-1:111122223333:stream/s";
        assert!(arn_matches("arn:aws:kinesis:*:111122223333:stream/*", arn));
        assert!(arn_matches("arn:aws:kinesis:us-east-?:*:*", arn));
        assert!(!arn_matches("arn:aws:kinesis:*", arn));
        assert!(arn_matches("*", arn));
        assert!(arn_matches(
            "arn:aws:kinesis:*:*:stream/s/consumer/*",
            "arn:aws:kinesis:us-east-1:1:stream/s/consumer/c:1700000000"
        ));
    }
}
