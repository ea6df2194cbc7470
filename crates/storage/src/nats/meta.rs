//! [`MetaStore`] on a JetStream KV bucket (`<prefix>_meta`, history 1, file storage, R =
//! replicas). A revision is the KV revision: the bucket stream's sequence, so it changes on
//! every write and is never reused, also after a delete. Writes are KV's compare-and-set
//! (`create` = only if absent, `update` = only at this revision); reads of a single key ask
//! the stream leader, so a read after a write sees it.
//!
//! KV keys allow only `[-/_=.a-zA-Z0-9]` and `.` separates subject tokens, while metadata keys
//! are any UTF-8: [`escape`] keeps `[-/_a-zA-Z0-9]` and writes every other byte as `=XX`
//! (upper-case hex). It works byte by byte, so the escape of a prefix is a prefix of the
//! escape of every key that starts with it.

use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;

use super::api;
use super::{unavailable, NatsOptions};
use crate::{MetaChange, MetaEntry, MetaError, MetaFuture, MetaStore, Revision, StorageError};
use async_nats::jetstream::kv;
use tokio::sync::mpsc;

pub struct NatsMeta {
    kv: kv::Store,
    client: async_nats::Client,
    bucket: String,
    timeout: std::time::Duration,
}

#[derive(serde::Deserialize)]
struct BucketInfo {
    state: BucketState,
}

#[derive(serde::Deserialize)]
struct BucketState {
    messages: u64,
}

/// How long a compare-and-set that fails with the key unchanged is retried.
const CAS_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

impl NatsMeta {
    pub(super) async fn open(
        js: async_nats::jetstream::Context,
        opts: &NatsOptions,
    ) -> Result<Self, StorageError> {
        let bucket = format!("{}_meta", opts.prefix);
        let kv = js
            .create_key_value(kv::Config {
                bucket: bucket.clone(),
                description: format!("Tributary metadata, format {}", super::NATS_FORMAT_VERSION),
                history: 1,
                storage: async_nats::jetstream::stream::StorageType::File,
                num_replicas: opts.replicas.max(1),
                ..Default::default()
            })
            .await
            .map_err(|e| unavailable("opening the metadata bucket", e))?;
        Ok(NatsMeta {
            kv,
            client: js.client(),
            bucket,
            timeout: opts.request_timeout,
        })
    }

    async fn current(&self, key: &str) -> Result<Option<MetaEntry>, MetaError> {
        let subject = format!("$KV.{}.{}", self.bucket, escape(key));
        let stream = format!("KV_{}", self.bucket);
        let got = api::msg_get(
            &self.client,
            self.timeout,
            &stream,
            json!({ "last_by_subj": subject }),
        )
        .await
        .map_err(|e| unavailable("metadata get", e))?;
        let Some(m) = got else { return Ok(None) };
        // KV marks deletes and purges with a header on an empty message.
        let op = m.headers.get("KV-Operation").map(|v| v.as_str().to_owned());
        if matches!(op.as_deref(), Some("DEL" | "PURGE")) {
            return Ok(None);
        }
        Ok(Some(MetaEntry {
            key: key.to_owned(),
            revision: m.seq,
            value: m.data,
        }))
    }

    /// Runs a compare-and-set (`expected`: the key's revision, or `None` for "absent") until
    /// it succeeds, the key has moved (`Exists`, `Conflict`, `NotFound`), or it kept failing
    /// for [`CAS_PATIENCE`]. JetStream also refuses a compare-and-set while a competing write
    /// of the key is still being applied (seen with 2.15.1: "wrong last sequence", 10164,
    /// which async-nats does not name), when the key still reads unchanged; retrying then is
    /// safe, as the write is still conditional.
    async fn cas<T, E, F, Fut>(
        &self,
        key: &str,
        expected: Option<Revision>,
        op: F,
    ) -> Result<T, MetaError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
        E: std::fmt::Display,
    {
        let deadline = tokio::time::Instant::now() + CAS_PATIENCE;
        loop {
            let err = match op().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            match (self.current(key).await?, expected) {
                (Some(_), None) => return Err(MetaError::Exists),
                (None, Some(_)) => return Err(MetaError::NotFound),
                (Some(cur), Some(expected)) if cur.revision != expected => {
                    return Err(MetaError::Conflict {
                        expected,
                        found: cur.revision,
                    })
                }
                _ if tokio::time::Instant::now() >= deadline => {
                    return Err(unavailable("metadata write", err).into())
                }
                _ => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
    }

    async fn list_now(&self, prefix: &str) -> Result<Vec<MetaEntry>, MetaError> {
        // A watch of an empty bucket waits forever: look first.
        let what = format!("STREAM.INFO.KV_{}", self.bucket);
        let info: BucketInfo = api::request(&self.client, self.timeout, what, json!({}))
            .await
            .map_err(|e| unavailable("metadata list", e))?;
        let mut out = Vec::new();
        if info.state.messages == 0 {
            return Ok(out);
        }
        let escaped = escape(prefix);
        let mut watch = self
            .kv
            .watch_with_history(">")
            .await
            .map_err(|e| unavailable("metadata list", e))?;
        loop {
            let next = tokio::time::timeout(self.timeout, watch.next())
                .await
                .map_err(|_| unavailable("metadata list", "no answer in time"))?;
            let Some(entry) = next else { break };
            let entry = entry.map_err(|e| unavailable("metadata list", e))?;
            if entry.operation == kv::Operation::Put && entry.key.starts_with(&escaped) {
                out.push(MetaEntry {
                    key: unescape(&entry.key)?,
                    revision: entry.revision,
                    value: entry.value,
                });
            }
            if entry.delta == 0 {
                break;
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

impl MetaStore for NatsMeta {
    fn get<'a>(&'a self, key: &'a str) -> MetaFuture<'a, Option<MetaEntry>> {
        Box::pin(self.current(key))
    }

    fn create<'a>(&'a self, key: &'a str, value: Bytes) -> MetaFuture<'a, Revision> {
        Box::pin(self.cas(key, None, move || {
            self.kv.create(escape(key), value.clone())
        }))
    }

    fn update<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        expected: Revision,
    ) -> MetaFuture<'a, Revision> {
        Box::pin(async move {
            // KV's update succeeds on a deleted key at the delete's revision: refuse that.
            match self.current(key).await? {
                None => return Err(MetaError::NotFound),
                Some(e) if e.revision != expected => {
                    return Err(MetaError::Conflict {
                        expected,
                        found: e.revision,
                    })
                }
                Some(_) => {}
            }
            self.cas(key, Some(expected), || {
                self.kv.update(escape(key), value.clone(), expected)
            })
            .await
        })
    }

    fn delete<'a>(&'a self, key: &'a str, expected: Option<Revision>) -> MetaFuture<'a, ()> {
        Box::pin(async move {
            let found = self
                .current(key)
                .await?
                .ok_or(MetaError::NotFound)?
                .revision;
            if let Some(expected) = expected.filter(|e| *e != found) {
                return Err(MetaError::Conflict { expected, found });
            }
            self.cas(key, Some(found), || {
                self.kv.delete_expect_revision(escape(key), Some(found))
            })
            .await
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> MetaFuture<'a, Vec<MetaEntry>> {
        Box::pin(self.list_now(prefix))
    }

    fn watch(&self) -> MetaFuture<'_, mpsc::UnboundedReceiver<MetaChange>> {
        Box::pin(async move {
            // An ordered consumer delivering only writes made after it exists (DeliverPolicy
            // New), in stream order, which is revision order; async-nats recreates it from
            // the last sequence it saw if the server side goes away.
            let mut changes = self
                .kv
                .watch_all()
                .await
                .map_err(|e| unavailable("metadata watch", e))?;
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(async move {
                while let Some(next) = changes.next().await {
                    let Ok(entry) = next else {
                        return; // closing the feed tells the caller to watch and list again
                    };
                    let Ok(key) = unescape(&entry.key) else {
                        tracing::warn!(key = %entry.key, "metadata key not written by Tributary");
                        continue;
                    };
                    let value = match entry.operation {
                        kv::Operation::Put => Some(entry.value),
                        kv::Operation::Delete | kv::Operation::Purge => None,
                    };
                    let change = MetaChange {
                        key,
                        revision: entry.revision,
                        value,
                    };
                    if tx.send(change).is_err() {
                        return;
                    }
                }
            });
            Ok(rx)
        })
    }
}

/// A metadata key as a KV key (module docs).
pub(super) fn escape(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'/' {
            out.push(b as char);
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out
}

fn unescape(kv_key: &str) -> Result<String, StorageError> {
    let bad = || StorageError::Corrupt(format!("metadata key {kv_key:?} is not escaped"));
    let raw = kv_key.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'=' {
            let hex = kv_key.get(i + 1..i + 3).ok_or_else(bad)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_prefixes_and_round_trips() {
        for key in [
            "stream/1/us-east-1/a.b",
            "policy/arn:aws:kinesis:x",
            "é=.*> ",
            "a",
        ] {
            let e = escape(key);
            assert!(e
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_/=".contains(&b)));
            assert_eq!(unescape(&e).unwrap(), key);
            for cut in (1..key.len()).filter(|c| key.is_char_boundary(*c)) {
                assert!(e.starts_with(&escape(&key[..cut])));
            }
        }
    }
}
