//! Loading the MetaStore into memory at `Engine::open`.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::RngCore;
use tributary_storage::{MetaError, MetaStore, Revision};

use crate::meta::{
    self, AccountRecord, ConsumerRecord, CounterRecord, PolicyRecord, SecretRecord, StreamRecord,
    FORMAT_VERSION,
};
use crate::state::{Registry, StreamEntry};
use crate::EngineOpenError;

pub(crate) struct Loaded {
    pub secret: [u8; 32],
    pub registry: Registry,
    pub next_stream_id: (u64, Revision),
    pub policies: HashMap<String, (String, Revision)>,
    pub accounts: HashMap<(String, String), (AccountRecord, Revision)>,
}

pub(crate) async fn load(store: &dyn MetaStore) -> Result<Loaded, EngineOpenError> {
    let secret = load_secret(store).await?;

    let mut registry = Registry::default();
    let mut max_id = 0;
    for entry in store.list(meta::STREAM_PREFIX).await? {
        let rec: StreamRecord = meta::from_entry(&entry)?;
        if meta::stream_key(&rec.account, &rec.region, &rec.name) != entry.key {
            return Err(EngineOpenError::Corrupt {
                key: entry.key,
                reason: "stream record does not match its key".into(),
            });
        }
        max_id = max_id.max(rec.id);
        registry.insert(StreamEntry::new(rec, entry.revision));
    }

    let next_stream_id = load_counter(store, max_id + 1).await?;
    load_consumers(store, &registry).await?;

    let mut policies = HashMap::new();
    for entry in store.list(meta::POLICY_PREFIX).await? {
        let rec: PolicyRecord = meta::from_entry(&entry)?;
        policies.insert(rec.arn, (rec.policy, entry.revision));
    }

    let mut accounts = HashMap::new();
    for entry in store.list(meta::ACCOUNT_PREFIX).await? {
        let rec: AccountRecord = meta::from_entry(&entry)?;
        let scope = entry.key[meta::ACCOUNT_PREFIX.len()..].split_once('/');
        let Some((account, region)) = scope else {
            return Err(EngineOpenError::Corrupt {
                key: entry.key,
                reason: "account key without a region".into(),
            });
        };
        accounts.insert(
            (account.to_owned(), region.to_owned()),
            (rec, entry.revision),
        );
    }

    Ok(Loaded {
        secret,
        registry,
        next_stream_id,
        policies,
        accounts,
    })
}

/// The iterator secret, created on first start. Two nodes racing to create it agree on
/// whichever write won.
async fn load_secret(store: &dyn MetaStore) -> Result<[u8; 32], EngineOpenError> {
    let entry = match store.get(meta::SECRET_KEY).await? {
        Some(e) => e,
        None => {
            let mut key = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut key);
            let rec = SecretRecord {
                v: FORMAT_VERSION,
                hmac_key: STANDARD.encode(key),
            };
            match store.create(meta::SECRET_KEY, meta::to_bytes(&rec)).await {
                Ok(_) => return Ok(key),
                Err(MetaError::Exists) => store
                    .get(meta::SECRET_KEY)
                    .await?
                    .ok_or(MetaError::NotFound)?,
                Err(e) => return Err(e.into()),
            }
        }
    };
    let rec: SecretRecord = meta::from_entry(&entry)?;
    STANDARD
        .decode(&rec.hmac_key)
        .ok()
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .ok_or_else(|| EngineOpenError::Corrupt {
            key: entry.key,
            reason: "the HMAC key is not 32 base64 bytes".into(),
        })
}

/// The stream-id counter, never below `floor` (one more than any id in use).
async fn load_counter(
    store: &dyn MetaStore,
    floor: u64,
) -> Result<(u64, Revision), EngineOpenError> {
    match store.get(meta::NEXT_STREAM_ID_KEY).await? {
        Some(entry) => {
            let rec: CounterRecord = meta::from_entry(&entry)?;
            Ok((rec.next.max(floor), entry.revision))
        }
        None => {
            let rec = CounterRecord {
                v: FORMAT_VERSION,
                next: floor,
            };
            match store
                .create(meta::NEXT_STREAM_ID_KEY, meta::to_bytes(&rec))
                .await
            {
                Ok(rev) => Ok((floor, rev)),
                // Another node opening at the same time created it first.
                Err(MetaError::Exists) => {
                    let entry = store
                        .get(meta::NEXT_STREAM_ID_KEY)
                        .await?
                        .ok_or(MetaError::NotFound)?;
                    let rec: CounterRecord = meta::from_entry(&entry)?;
                    Ok((rec.next.max(floor), entry.revision))
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// Attaches every consumer to its stream. A consumer whose stream incarnation is gone (the
/// stream was deleted between its consumers and its own record) is deleted.
async fn load_consumers(store: &dyn MetaStore, registry: &Registry) -> Result<(), EngineOpenError> {
    for entry in store.list(meta::CONSUMER_PREFIX).await? {
        let rec: ConsumerRecord = meta::from_entry(&entry)?;
        if meta::consumer_key(&rec.account, &rec.region, &rec.stream, &rec.name) != entry.key {
            return Err(EngineOpenError::Corrupt {
                key: entry.key,
                reason: "consumer record does not match its key".into(),
            });
        }
        match registry.get(&rec.account, &rec.region, &rec.stream) {
            Some(stream) if stream.id == rec.stream_id => {
                stream.put_consumer(rec, entry.revision);
            }
            _ => {
                tracing::info!(key = %entry.key, "removing a consumer of a deleted stream");
                // Another node opening at the same time may have removed or changed it.
                match store.delete(&entry.key, Some(entry.revision)).await {
                    Ok(()) | Err(MetaError::NotFound | MetaError::Conflict { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(())
}
