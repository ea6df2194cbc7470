//! Production checks at start against the NATS cluster (issue 12): Tributary refuses a setup
//! that loses acknowledged records unless the operator opts in, and says loudly what it
//! could not check.
//!
//! - Replicas below 3: refused unless `--nats-allow-unreplicated`.
//! - A server without `sync_interval: always` (fsync every write): the setting is not in the
//!   client protocol; only the system account's `$SYS.REQ.SERVER.PING.VARZ` reports it
//!   (`jetstream.config.sync_always`, verified on nats-server 2.15.1). With system-account
//!   credentials every answering server is checked and a server without it is refused unless
//!   `--nats-allow-unsynced`; without them the start-up log says the setting is unverified.
//! - `max_payload` below what a 10 MiB record needs (same VARZ answer): a warning, since only
//!   large records fail and they fail visibly.

use std::time::Duration;

use anyhow::{bail, Context};
use futures::StreamExt;
use tributary_storage::NATS_MAX_RECORD;

use crate::nats::{NatsAuth, NatsSettings, SAFE_REPLICAS};

/// A 10 MiB record plus the engine's framing and the headers: the documented 12 MiB leaves
/// room; less than this fails the largest records.
const NEEDED_PAYLOAD: u64 = NATS_MAX_RECORD as u64 + (64 << 10);

/// After the first VARZ answer, how long to wait for the other servers'.
const STRAGGLERS: Duration = Duration::from_millis(500);

/// What the checks found, for the start-up log line.
pub struct Verdict {
    /// `"verified on N servers"`, `"unverified"`, or the opt-in that let it pass.
    pub sync: String,
}

pub fn check_replicas(s: &NatsSettings) -> anyhow::Result<()> {
    if s.replicas >= SAFE_REPLICAS {
        return Ok(());
    }
    if !s.allow_unreplicated {
        bail!(
            "refusing NATS storage with {} replica(s): losing one NATS server's disk would lose \
             acknowledged records. Use --nats-replicas 3 (production), or pass \
             --nats-allow-unreplicated to accept the risk (tests, trials).",
            s.replicas
        );
    }
    tracing::warn!(
        replicas = s.replicas,
        "!!! --nats-allow-unreplicated: every shard and the metadata keep {} copy(ies); losing \
         one NATS server's disk LOSES ACKNOWLEDGED RECORDS. Not for production (docs/replicated.md).",
        s.replicas
    );
    Ok(())
}

pub async fn check_sync(s: &NatsSettings) -> anyhow::Result<Verdict> {
    if matches!(s.system_auth, NatsAuth::None) {
        tracing::warn!(
            "NATS sync_interval UNVERIFIED: reading it needs a system-account login \
             (--nats-system-credentials, or --nats-system-user with TRIBUTARY_NATS_SYSTEM_PASSWORD). \
             Without `jetstream {{ sync_interval: always }}` on every server a power loss can lose \
             acknowledged records (docs/replicated.md)."
        );
        return Ok(Verdict {
            sync: "unverified".into(),
        });
    }
    let servers = tokio::time::timeout(s.request_timeout * 2, varz(s))
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "checking the NATS servers' settings: no answer within {:?}",
                s.request_timeout * 2
            )
        })??;
    let mut unsynced = Vec::new();
    for v in &servers {
        if !v.jetstream {
            bail!(
                "NATS server {} has JetStream disabled: enable `jetstream {{ … }}` in its config",
                v.name
            );
        }
        if !v.sync_always {
            unsynced.push(v.name.clone());
        }
        if v.max_payload < NEEDED_PAYLOAD {
            tracing::warn!(
                server = %v.name,
                max_payload = v.max_payload,
                "NATS max_payload is below {NEEDED_PAYLOAD} bytes: records near 10 MiB will be \
                 refused; set `max_payload: 12MB` (docs/replicated.md)"
            );
        }
    }
    if servers.len() < s.replicas {
        tracing::warn!(
            answered = servers.len(),
            replicas = s.replicas,
            "fewer NATS servers answered than there are replicas: some are down or unreachable"
        );
    }
    if unsynced.is_empty() {
        return Ok(Verdict {
            sync: format!(
                "sync_interval always on all {} answering servers",
                servers.len()
            ),
        });
    }
    if !s.allow_unsynced {
        bail!(
            "refusing NATS storage: server(s) {} do not fsync every write (sync_interval is not \
             `always`), so a power loss can lose acknowledged records. Set `jetstream {{ \
             sync_interval: always }}` on every server (docs/replicated.md), or pass \
             --nats-allow-unsynced to accept the risk.",
            unsynced.join(", ")
        );
    }
    tracing::warn!(
        servers = %unsynced.join(", "),
        "!!! --nats-allow-unsynced: these NATS servers do not fsync every write; a power loss \
         can LOSE ACKNOWLEDGED RECORDS"
    );
    Ok(Verdict {
        sync: format!("NOT always on {} (allowed)", unsynced.join(", ")),
    })
}

struct ServerSettings {
    name: String,
    jetstream: bool,
    sync_always: bool,
    max_payload: u64,
}

/// Asks every server of the cluster for its VARZ over the system account.
async fn varz(s: &NatsSettings) -> anyhow::Result<Vec<ServerSettings>> {
    let mut co = async_nats::ConnectOptions::new()
        .name("tributary-checks")
        .connection_timeout(s.request_timeout)
        .max_reconnects(Some(1));
    match &s.system_auth {
        NatsAuth::None => unreachable!("checked by the caller"),
        NatsAuth::Credentials(p) => {
            co = co
                .credentials_file(p)
                .await
                .with_context(|| format!("NATS system credentials {}", p.display()))?
        }
        NatsAuth::UserPassword(u, p) => {
            co = co.user_and_password(u.clone(), p.expose().to_string())
        }
    }
    if let Some(ca) = &s.tls_ca {
        co = co.add_root_certificates(ca.clone()).require_tls(true);
    }
    let addrs = s
        .servers
        .iter()
        .map(|u| u.parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()?;
    let client = co
        .connect(addrs)
        .await
        .context("connecting to NATS with the system-account login")?;
    let inbox = client.new_inbox();
    let mut answers = client.subscribe(inbox.clone()).await?;
    client
        .publish_with_reply("$SYS.REQ.SERVER.PING.VARZ", inbox, "".into())
        .await?;
    client.flush().await?;
    let mut out = Vec::new();
    let first = tokio::time::timeout(s.request_timeout, answers.next()).await;
    let mut next = match first {
        Ok(Some(m)) => Some(m),
        _ => bail!(
            "no NATS server answered $SYS.REQ.SERVER.PING.VARZ within {:?}: is the system-account \
             login really in the system account?",
            s.request_timeout
        ),
    };
    while let Some(m) = next {
        // A login outside the system account gets "no responders" (status 503), not VARZ.
        if m.status
            .is_some_and(|c| c == async_nats::StatusCode::NO_RESPONDERS)
        {
            bail!(
                "the NATS system-account login cannot read server settings (no responders on \
                 $SYS.REQ.SERVER.PING.VARZ): is that user in the system account?"
            );
        }
        out.push(parse_varz(&m.payload)?);
        next = tokio::time::timeout(STRAGGLERS, answers.next())
            .await
            .ok()
            .flatten();
    }
    Ok(out)
}

fn parse_varz(payload: &[u8]) -> anyhow::Result<ServerSettings> {
    let v: serde_json::Value =
        serde_json::from_slice(payload).context("a NATS server's VARZ answer is not JSON")?;
    let data = &v["data"];
    let name = v["server"]["name"]
        .as_str()
        .or(data["server_name"].as_str())
        .unwrap_or("?")
        .to_string();
    let js = &data["jetstream"]["config"];
    Ok(ServerSettings {
        name,
        jetstream: js.is_object(),
        // `sync_always` is left out of the JSON when false (nats-server omitempty).
        sync_always: js["sync_always"].as_bool().unwrap_or(false),
        max_payload: data["max_payload"].as_u64().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fsync_setting_from_varz() {
        // Shapes as nats-server 2.15.1 answers (trimmed).
        let synced = br#"{"data":{"server_name":"n1","max_payload":12582912,"jetstream":{"config":{"sync_interval":120000000000,"sync_always":true}}},"server":{"name":"n1"}}"#;
        let v = parse_varz(synced).unwrap();
        assert!(v.jetstream && v.sync_always && v.max_payload == 12582912);
        assert_eq!(v.name, "n1");
        let default = br#"{"data":{"max_payload":1048576,"jetstream":{"config":{"sync_interval":120000000000}}},"server":{"name":"n2"}}"#;
        let v = parse_varz(default).unwrap();
        assert!(v.jetstream && !v.sync_always && v.max_payload < NEEDED_PAYLOAD);
        let no_js = br#"{"data":{"max_payload":1048576},"server":{"name":"n3"}}"#;
        assert!(!parse_varz(no_js).unwrap().jetstream);
    }
}
