//! Set-up calls on their own connection: make sure the stream exists and is ACTIVE, list its
//! shards, preload records for the read workloads, register a consumer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use tributary_model::Value;

use crate::sign::{payload_hash, RequestSigner};
use crate::transport::{target, Endpoint, Sender};
use crate::wire;

/// An error answer from the server.
#[derive(Debug)]
pub struct ApiFailure {
    pub op: String,
    pub code: String,
    pub status: u16,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} answered HTTP {} {}", self.op, self.status, self.code)
    }
}

impl std::error::Error for ApiFailure {}

const CALL_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Control {
    ep: Arc<Endpoint>,
    sender: Sender,
    signer: RequestSigner,
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

impl Control {
    pub async fn new(ep: Arc<Endpoint>, signer: RequestSigner) -> anyhow::Result<Control> {
        let sender = ep.connect().await?;
        Ok(Control { ep, sender, signer })
    }

    /// One call; an error answer becomes an [`ApiFailure`].
    pub async fn call(&mut self, op: &str, input: &Value) -> anyhow::Result<Value> {
        let body = wire::encode(self.ep.format, input);
        self.call_raw(op, body).await
    }

    pub async fn call_raw(&mut self, op: &str, body: Bytes) -> anyhow::Result<Value> {
        if self.sender.is_closed() {
            self.sender = self.ep.connect().await?;
        }
        let hash = payload_hash(&body);
        let req = self
            .ep
            .request(&mut self.signer, &target(op), body, &hash)?;
        // A set-up call that never answers must not hang the run.
        let (status, resp) = tokio::time::timeout(CALL_TIMEOUT, self.sender.send(req))
            .await
            .with_context(|| format!("{op}: no answer within {CALL_TIMEOUT:?}"))??;
        if !status.is_success() {
            let code = wire::error_code(self.ep.format, status.as_u16(), &resp);
            return Err(ApiFailure {
                op: op.to_string(),
                code,
                status: status.as_u16(),
            }
            .into());
        }
        if resp.is_empty() {
            return Ok(Value::Map(Vec::new()));
        }
        wire::decode(self.ep.format, &resp).with_context(|| format!("{op}: unreadable answer"))
    }

    /// Creates the stream with `shards` shards unless it exists, waits until it is ACTIVE,
    /// and returns its ARN and shard count.
    pub async fn ensure_stream(&mut self, name: &str, shards: usize) -> anyhow::Result<String> {
        let describe = map(vec![("StreamName", s(name))]);
        match self.call("DescribeStreamSummary", &describe).await {
            Ok(_) => {}
            Err(e) if code_of(&e) == Some("ResourceNotFoundException") => {
                let create = map(vec![
                    ("StreamName", s(name)),
                    ("ShardCount", Value::Int(shards as i64)),
                ]);
                self.call("CreateStream", &create).await?;
            }
            Err(e) => return Err(e),
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.call("DescribeStreamSummary", &describe).await?;
            let summary = v.get("StreamDescriptionSummary");
            let status = summary.and_then(|d| d.get("StreamStatus"));
            if let Some(Value::Str(st)) = status {
                if st == "ACTIVE" {
                    return match summary.and_then(|d| d.get("StreamARN")) {
                        Some(Value::Str(arn)) => Ok(arn.clone()),
                        _ => bail!("DescribeStreamSummary has no StreamARN"),
                    };
                }
            }
            if Instant::now() > deadline {
                bail!("stream {name} is not ACTIVE after 60 s ({status:?})");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Ids of the shards open for writing (no `EndingSequenceNumber`), in order.
    pub async fn open_shards(&mut self, name: &str) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let input = match &next {
                None => map(vec![("StreamName", s(name))]),
                Some(t) => map(vec![("NextToken", s(t))]),
            };
            let v = self.call("ListShards", &input).await?;
            if let Some(Value::List(shards)) = v.get("Shards") {
                for sh in shards {
                    let closed = sh
                        .get("SequenceNumberRange")
                        .and_then(|r| r.get("EndingSequenceNumber"))
                        .is_some_and(|e| !matches!(e, Value::Null));
                    if let (Some(Value::Str(id)), false) = (sh.get("ShardId"), closed) {
                        out.push(id.clone());
                    }
                }
            }
            match v.get("NextToken") {
                Some(Value::Str(t)) => next = Some(t.clone()),
                _ => break,
            }
        }
        if out.is_empty() {
            bail!("stream {name} has no open shard");
        }
        Ok(out)
    }

    /// Writes `count` records of `size` bytes in PutRecords of up to 500; returns how many
    /// were accepted. A few distinct bodies are reused: their content does not matter to a
    /// reader, only their number and size.
    pub async fn preload(&mut self, name: &str, count: usize, size: usize) -> anyhow::Result<u64> {
        let batch = count.clamp(1, 500);
        let bodies = wire::put_records_bodies(self.ep.format, name, size, batch, 4);
        let mut accepted = 0u64;
        let mut sent = 0usize;
        let mut i = 0;
        while sent < count {
            let body = bodies[i % bodies.len()].bytes.clone();
            i += 1;
            let v = self.call_raw("PutRecords", body).await?;
            let failed = match v.get("FailedRecordCount") {
                Some(Value::Int(n)) => *n as u64,
                _ => 0,
            };
            accepted += batch as u64 - failed;
            sent += batch;
        }
        Ok(accepted)
    }

    /// The ARN of consumer `name` on the stream, registered if needed, once ACTIVE.
    pub async fn ensure_consumer(
        &mut self,
        stream_arn: &str,
        name: &str,
    ) -> anyhow::Result<String> {
        let reg = map(vec![
            ("StreamARN", s(stream_arn)),
            ("ConsumerName", s(name)),
        ]);
        match self.call("RegisterStreamConsumer", &reg).await {
            Ok(_) => {}
            Err(e) if code_of(&e) == Some("ResourceInUseException") => {}
            Err(e) => return Err(e),
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.call("DescribeStreamConsumer", &reg).await?;
            let d = v.get("ConsumerDescription");
            if let (Some(Value::Str(st)), Some(Value::Str(arn))) = (
                d.and_then(|d| d.get("ConsumerStatus")),
                d.and_then(|d| d.get("ConsumerARN")),
            ) {
                if st == "ACTIVE" {
                    return Ok(arn.clone());
                }
            }
            if Instant::now() > deadline {
                bail!("consumer {name} is not ACTIVE after 60 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The AWS error code inside an error chain, if the server answered one.
pub fn code_of(e: &anyhow::Error) -> Option<&str> {
    e.downcast_ref::<ApiFailure>().map(|f| f.code.as_str())
}
