//! The two wire formats' [`Writer`]s for the typed encoders of `tributary-model`, and
//! [`to_body`], which the server calls for every answer.

use bytes::Bytes;
use ciborium_ll::Header;
use tributary_model::Timestamp;

pub use tributary_model::encode::{Encode, Writer};

use crate::Format;

/// The encoded body of `value` in `format`.
pub fn to_body<T: Encode + ?Sized>(format: Format, value: &T) -> Bytes {
    match format {
        Format::Json => {
            let mut w = JsonWriter {
                out: Vec::with_capacity(value.size_hint()),
            };
            value.encode(&mut w);
            Bytes::from(w.out)
        }
        Format::Cbor => {
            let mut w = CborWriter {
                out: Vec::with_capacity(value.size_hint()),
            };
            value.encode(&mut w);
            Bytes::from(w.out)
        }
    }
}

/// AWS JSON 1.1: blobs as base64, timestamps as epoch seconds with millisecond precision.
#[derive(Debug, Default)]
pub struct JsonWriter {
    pub out: Vec<u8>,
}

impl JsonWriter {
    /// A comma unless this is the first member or item of its container.
    fn separate(&mut self) {
        if !matches!(self.out.last(), Some(b'{' | b'[') | None) {
            self.out.push(b',');
        }
    }
}

impl Writer for JsonWriter {
    fn begin_struct(&mut self, _: usize) {
        self.out.push(b'{');
    }
    fn member(&mut self, name: &str) {
        self.separate();
        crate::json::write_str(&mut self.out, name);
        self.out.push(b':');
    }
    fn end_struct(&mut self) {
        self.out.push(b'}');
    }
    fn begin_list(&mut self, _: usize) {
        self.out.push(b'[');
    }
    fn item(&mut self) {
        self.separate();
    }
    fn end_list(&mut self) {
        self.out.push(b']');
    }
    fn string(&mut self, s: &str) {
        crate::json::write_str(&mut self.out, s);
    }
    fn int(&mut self, i: i64) {
        crate::json::write_int(&mut self.out, i);
    }
    fn boolean(&mut self, b: bool) {
        self.out
            .extend_from_slice(if b { b"true" } else { b"false" });
    }
    fn blob(&mut self, b: &[u8]) {
        self.out.push(b'"');
        // SIMD base64, appended in place: GetRecords bodies are mostly this.
        base64_simd::STANDARD.encode_append(b, &mut self.out);
        self.out.push(b'"');
    }
    fn timestamp(&mut self, t: Timestamp) {
        crate::json::write_timestamp(&mut self.out, t);
    }
}

/// CBOR as the SDKs use it for `application/x-amz-cbor-1.1`: definite lengths, blobs as byte
/// strings, timestamps as tag 1 and epoch milliseconds.
#[derive(Debug, Default)]
pub struct CborWriter {
    pub out: Vec<u8>,
}

impl CborWriter {
    fn out(&mut self) -> crate::cbor::Out<'_> {
        crate::cbor::Out::new(&mut self.out)
    }
}

impl Writer for CborWriter {
    fn begin_struct(&mut self, members: usize) {
        self.out().head(Header::Map(Some(members)));
    }
    fn member(&mut self, name: &str) {
        self.out().text(name);
    }
    fn end_struct(&mut self) {}
    fn begin_list(&mut self, len: usize) {
        self.out().head(Header::Array(Some(len)));
    }
    fn item(&mut self) {}
    fn end_list(&mut self) {}
    fn string(&mut self, s: &str) {
        self.out().text(s);
    }
    fn int(&mut self, i: i64) {
        self.out().int(i);
    }
    fn boolean(&mut self, b: bool) {
        self.out().boolean(b);
    }
    fn blob(&mut self, b: &[u8]) {
        self.out().bytes(b);
    }
    fn timestamp(&mut self, t: Timestamp) {
        self.out().timestamp(t.millis());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_model::types::*;

    fn record(i: usize) -> Record {
        Record {
            sequence_number: format!("4960{i:052}"),
            approximate_arrival_timestamp: (!i.is_multiple_of(3))
                .then_some(Timestamp(1_700_000_000_000 + i as i64 * 7)),
            data: Bytes::from(vec![i as u8; i % 5]),
            partition_key: (i % 4 != 1).then(|| format!("k\"{i}\n\u{e9}")),
            encryption_type: match i % 3 {
                0 => None,
                1 => Some(EncryptionType::None),
                _ => Some(EncryptionType::Kms),
            },
        }
    }

    fn child() -> ChildShard {
        ChildShard {
            shard_id: "shardId-000000000002".into(),
            parent_shards: vec!["shardId-000000000000".into()],
            hash_key_range: HashKeyRange {
                starting_hash_key: "0".into(),
                ending_hash_key: "42".into(),
            },
        }
    }

    /// The typed JSON encoding is byte for byte what the generic encoder wrote before it
    /// (these bodies were captured from it: the model's order, optional members only when set,
    /// the same number and time forms), and the CBOR encoding reads back as the same value.
    fn golden<T: Encode + std::fmt::Debug>(v: &T, json: &str) {
        assert_eq!(
            std::str::from_utf8(&to_body(Format::Json, v)).unwrap(),
            json,
            "{v:?}"
        );
        let cbor = crate::cbor::decode(&to_body(Format::Cbor, v)).unwrap();
        assert_eq!(
            std::str::from_utf8(&crate::json::encode(&cbor)).unwrap(),
            json
        );
    }

    #[test]
    fn typed_encoding_matches_the_generic_one() {
        golden(&GetRecordsOutput::default(), r#"{"Records":[]}"#);
        golden(
            &GetRecordsOutput {
                records: (0..3).map(record).collect(),
                next_shard_iterator: Some("AAAA/+==".into()),
                millis_behind_latest: Some(0),
                child_shards: None,
            },
            r#"{"Records":[{"SequenceNumber":"49600000000000000000000000000000000000000000000000000000","Data":"","PartitionKey":"k\"0\né"},{"SequenceNumber":"49600000000000000000000000000000000000000000000000000001","ApproximateArrivalTimestamp":1700000000.007,"Data":"AQ==","EncryptionType":"NONE"},{"SequenceNumber":"49600000000000000000000000000000000000000000000000000002","ApproximateArrivalTimestamp":1700000000.014,"Data":"AgI=","PartitionKey":"k\"2\né","EncryptionType":"KMS"}],"NextShardIterator":"AAAA/+==","MillisBehindLatest":0}"#,
        );
        golden(
            &GetRecordsOutput {
                records: vec![record(2)],
                next_shard_iterator: None,
                millis_behind_latest: Some(-5),
                child_shards: Some(vec![child()]),
            },
            r#"{"Records":[{"SequenceNumber":"49600000000000000000000000000000000000000000000000000002","ApproximateArrivalTimestamp":1700000000.014,"Data":"AgI=","PartitionKey":"k\"2\né","EncryptionType":"KMS"}],"MillisBehindLatest":-5,"ChildShards":[{"ShardId":"shardId-000000000002","ParentShards":["shardId-000000000000"],"HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"42"}}]}"#,
        );
        golden(
            &PutRecordsOutput {
                failed_record_count: Some(1),
                records: vec![
                    PutRecordsResultEntry {
                        sequence_number: Some("1".into()),
                        shard_id: Some("shardId-000000000000".into()),
                        ..Default::default()
                    },
                    PutRecordsResultEntry {
                        error_code: Some("InternalFailure".into()),
                        error_message: Some("Internal service failure.".into()),
                        ..Default::default()
                    },
                ],
                encryption_type: Some(EncryptionType::None),
            },
            r#"{"FailedRecordCount":1,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"},{"ErrorCode":"InternalFailure","ErrorMessage":"Internal service failure."}],"EncryptionType":"NONE"}"#,
        );
        golden(
            &DescribeStreamSummaryOutput {
                stream_description_summary: StreamDescriptionSummary {
                    stream_name: "s".into(),
                    stream_arn: "arn:aws:kinesis:us-east-1:123456789012:stream/s".into(),
                    stream_status: StreamStatus::Active,
                    stream_mode_details: Some(StreamModeDetails {
                        stream_mode: StreamMode::OnDemand,
                    }),
                    retention_period_hours: 24,
                    stream_creation_timestamp: Timestamp(1_700_000_000_001),
                    enhanced_monitoring: vec![EnhancedMetrics {
                        shard_level_metrics: Some(vec![MetricsName::Incomingbytes]),
                    }],
                    open_shard_count: 3,
                    consumer_count: Some(1),
                    ..Default::default()
                },
            },
            r#"{"StreamDescriptionSummary":{"StreamName":"s","StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/s","StreamStatus":"ACTIVE","StreamModeDetails":{"StreamMode":"ON_DEMAND"},"RetentionPeriodHours":24,"StreamCreationTimestamp":1700000000.001,"EnhancedMonitoring":[{"ShardLevelMetrics":["IncomingBytes"]}],"OpenShardCount":3,"ConsumerCount":1}}"#,
        );
        golden(
            &ListTagsForResourceOutput {
                tags: Some(vec![Tag {
                    key: "k".into(),
                    value: Some("v".into()),
                }]),
            },
            r#"{"Tags":[{"Key":"k","Value":"v"}]}"#,
        );
        golden(&SubscribeToShardOutput::default(), "{}");
    }

    /// The one member the generated code leaves out when empty (see the generator).
    #[test]
    fn a_closed_shards_last_event_has_no_continuation_number() {
        let last = SubscribeToShardEvent {
            records: vec![],
            continuation_sequence_number: String::new(),
            millis_behind_latest: 0,
            child_shards: Some(vec![child()]),
        };
        let body = to_body(Format::Json, &last);
        let text = std::str::from_utf8(&body).unwrap();
        assert!(!text.contains("ContinuationSequenceNumber"), "{text}");
        assert!(text.contains("ChildShards"), "{text}");
        let open = SubscribeToShardEvent {
            continuation_sequence_number: "49".into(),
            child_shards: None,
            ..last
        };
        golden(
            &open,
            r#"{"Records":[],"ContinuationSequenceNumber":"49","MillisBehindLatest":0}"#,
        );
    }
}
