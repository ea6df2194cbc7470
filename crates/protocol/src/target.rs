//! `X-Amz-Target: Kinesis_20131202.PutRecords` to an [`Operation`].

use tributary_model::Operation;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Service prefix and operation both known.
    Known(Operation),
    /// Header present with a service and an operation, but not ours or not in the model.
    Unknown,
    /// No header, or not of the form `Service.Operation`.
    Missing,
}

pub fn parse(header: Option<&str>) -> Target {
    let Some(h) = header else {
        return Target::Missing;
    };
    let mut parts = h.splitn(2, '.');
    let (Some(service), Some(op)) = (parts.next(), parts.next()) else {
        return Target::Missing;
    };
    if service.is_empty() || op.is_empty() {
        return Target::Missing;
    }
    if service != Operation::TARGET_PREFIX {
        return Target::Unknown;
    }
    Operation::from_name(op).map_or(Target::Unknown, Target::Known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        assert_eq!(
            parse(Some("Kinesis_20131202.PutRecords")),
            Target::Known(Operation::PutRecords)
        );
        assert_eq!(parse(Some("Kinesis_20131202.Nope")), Target::Unknown);
        assert_eq!(parse(Some("DynamoDB_20120810.PutItem")), Target::Unknown);
        assert_eq!(parse(Some("Kinesis_20131202")), Target::Missing);
        assert_eq!(parse(Some(".PutRecords")), Target::Missing);
        assert_eq!(parse(None), Target::Missing);
    }
}
