//! Health of the JetStream shard log: whether the client is connected and JetStream
//! answers (readiness), and the series `/metrics` shows for it: the connection state and
//! the leader of each shard's stream this node has used.
//!
//! Leaders are asked on scrape, one STREAM.INFO per shard known to this node, all at once
//! and cut off after `LEADER_BUDGET` (a shard that does not answer in time shows no
//! leader), and at most `MAX_LEADER_SHARDS` of them, so a scrape stays bounded on a node
//! with many shards. Nothing here runs on the append path.

use std::time::Duration;

use async_nats::connection::State;
use serde_json::json;
use tributary_telemetry::{Exposition, Kind};

use super::api::ApiError;
use super::log::{NatsLog, StreamInfo};
use crate::{ShardKey, StorageError, StorageResult};

/// How long a scrape waits for the shards' leaders, in total.
const LEADER_BUDGET: Duration = Duration::from_secs(2);
/// Most shards whose leader one scrape asks for.
const MAX_LEADER_SHARDS: usize = 256;

impl NatsLog {
    /// Writable when connected and JetStream answers an account-info request in time.
    pub(super) async fn check_health(&self) -> StorageResult<()> {
        let state = self.client.connection_state();
        if state != State::Connected {
            return Err(StorageError::Unavailable(format!(
                "the NATS connection is {state}"
            )));
        }
        let info: Result<serde_json::Value, ApiError> = self.api("INFO".into(), json!({})).await;
        info.map(|_| ())
            .map_err(|e| StorageError::Unavailable(format!("JetStream account info: {e}")))
    }

    pub(super) async fn write_health_metrics(&self, out: &mut Exposition) {
        let connected = self.client.connection_state() == State::Connected;
        out.family(
            "tributary_nats_connected",
            Kind::Gauge,
            "1 while the NATS client is connected to the cluster, else 0.",
        );
        out.sample(&[], connected);
        let mut keys: Vec<ShardKey> = self.shards.lock().keys().copied().collect();
        keys.sort_unstable();
        keys.truncate(MAX_LEADER_SHARDS);
        let asks = keys.iter().map(|&k| async move {
            let info: Result<StreamInfo, _> = self
                .api(format!("STREAM.INFO.{}", self.stream_name(k)), json!({}))
                .await;
            (k, info.ok().and_then(|i| i.cluster?.leader))
        });
        let answers = tokio::time::timeout(LEADER_BUDGET, futures::future::join_all(asks))
            .await
            .unwrap_or_default();
        out.family(
            "tributary_nats_shard_leader",
            Kind::Gauge,
            "1 for the NATS server that leads the JetStream stream of a shard this node used \
             (labels: jetstream_stream, leader).",
        );
        for (k, leader) in answers {
            if let Some(leader) = leader {
                let name = self.stream_name(k);
                out.sample(
                    &[
                        ("jetstream_stream", name.as_str()),
                        ("leader", leader.as_str()),
                    ],
                    1u64,
                );
            }
        }
    }
}
