//! Conversions between the stored records (`meta`) and the generated wire shapes.

use tributary_model::types::{
    EncryptionType, EnhancedMetrics, HashKeyRange, MetricsName, RecordDistributionStrategy,
    SequenceNumberRange, Shard, StreamMode, StreamModeDetails, StreamStatus,
};

use crate::messages::canonical_shard_id;
use crate::meta::{Distribution, Metric, Mode, ShardRecord, Status, StreamRecord};
use crate::seqnum::SeqNum;

/// KMS while the stream encrypts new records, NONE otherwise (DescribeStream and
/// DescribeStreamSummary always carry it, as AWS does).
pub(crate) fn encryption_type(rec: &StreamRecord) -> EncryptionType {
    match rec.encryption {
        Some(_) => EncryptionType::Kms,
        None => EncryptionType::None,
    }
}

impl From<Status> for StreamStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Creating => StreamStatus::Creating,
            Status::Active => StreamStatus::Active,
            Status::Updating => StreamStatus::Updating,
            Status::Deleting => StreamStatus::Deleting,
        }
    }
}

impl From<StreamMode> for Mode {
    fn from(m: StreamMode) -> Self {
        match m {
            StreamMode::Provisioned => Mode::Provisioned,
            StreamMode::OnDemand => Mode::OnDemand,
        }
    }
}

impl From<Mode> for StreamModeDetails {
    fn from(m: Mode) -> Self {
        StreamModeDetails {
            stream_mode: match m {
                Mode::Provisioned => StreamMode::Provisioned,
                Mode::OnDemand => StreamMode::OnDemand,
            },
        }
    }
}

impl Mode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Mode::Provisioned => "PROVISIONED",
            Mode::OnDemand => "ON_DEMAND",
        }
    }
}

impl From<RecordDistributionStrategy> for Distribution {
    fn from(d: RecordDistributionStrategy) -> Self {
        match d {
            RecordDistributionStrategy::Auto => Distribution::Auto,
            RecordDistributionStrategy::UserPartitionKey => Distribution::UserPartitionKey,
        }
    }
}

impl From<Distribution> for RecordDistributionStrategy {
    fn from(d: Distribution) -> Self {
        match d {
            Distribution::Auto => RecordDistributionStrategy::Auto,
            Distribution::UserPartitionKey => RecordDistributionStrategy::UserPartitionKey,
        }
    }
}

impl From<Metric> for MetricsName {
    fn from(m: Metric) -> Self {
        match m {
            Metric::IncomingBytes => MetricsName::Incomingbytes,
            Metric::IncomingRecords => MetricsName::Incomingrecords,
            Metric::OutgoingBytes => MetricsName::Outgoingbytes,
            Metric::OutgoingRecords => MetricsName::Outgoingrecords,
            Metric::WriteProvisionedThroughputExceeded => {
                MetricsName::Writeprovisionedthroughputexceeded
            }
            Metric::ReadProvisionedThroughputExceeded => {
                MetricsName::Readprovisionedthroughputexceeded
            }
            Metric::IteratorAgeMilliseconds => MetricsName::Iteratoragemilliseconds,
        }
    }
}

/// The metrics a requested name stands for (`ALL` stands for every one).
pub(crate) fn expand_metric(m: MetricsName) -> &'static [Metric] {
    match m {
        MetricsName::Incomingbytes => &[Metric::IncomingBytes],
        MetricsName::Incomingrecords => &[Metric::IncomingRecords],
        MetricsName::Outgoingbytes => &[Metric::OutgoingBytes],
        MetricsName::Outgoingrecords => &[Metric::OutgoingRecords],
        MetricsName::Writeprovisionedthroughputexceeded => {
            &[Metric::WriteProvisionedThroughputExceeded]
        }
        MetricsName::Readprovisionedthroughputexceeded => {
            &[Metric::ReadProvisionedThroughputExceeded]
        }
        MetricsName::Iteratoragemilliseconds => &[Metric::IteratorAgeMilliseconds],
        MetricsName::All => &Metric::ALL,
    }
}

pub(crate) fn enhanced_monitoring(metrics: &[Metric]) -> Vec<EnhancedMetrics> {
    vec![EnhancedMetrics {
        shard_level_metrics: Some(metrics.iter().map(|&m| m.into()).collect()),
    }]
}

pub(crate) fn shard(stream_id: u64, s: &ShardRecord) -> Shard {
    Shard {
        shard_id: canonical_shard_id(s.index),
        parent_shard_id: s.parent.map(canonical_shard_id),
        adjacent_parent_shard_id: s.adjacent.map(canonical_shard_id),
        hash_key_range: HashKeyRange {
            starting_hash_key: s.start.to_string(),
            ending_hash_key: s.end.to_string(),
        },
        sequence_number_range: SequenceNumberRange {
            starting_sequence_number: SeqNum::shard_start(stream_id, s.index).encode(),
            ending_sequence_number: s
                .closed_ms
                .map(|t| SeqNum::shard_end(stream_id, s.index, t).encode()),
        },
    }
}
