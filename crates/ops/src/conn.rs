//! Connection settings the way AWS users expect them: `aws-config`'s chains for region and
//! credentials (AWS_* variables, `--profile`, the shared config and credentials files, SSO,
//! web identity, instance metadata) and SigV4 signing, with `--endpoint-url` and `--region`
//! overriding whatever those chains find.

use std::time::Duration;

use anyhow::{bail, Result};
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use clap::ValueEnum;

/// The flags every subcommand takes, before or after its own.
#[derive(Debug, Clone, clap::Args)]
pub struct Conn {
    /// The Kinesis endpoint, e.g. http://127.0.0.1:4567 (default: AWS_ENDPOINT_URL_KINESIS,
    /// AWS_ENDPOINT_URL, the profile's endpoint_url, then AWS's own endpoint for the region).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The region to sign for (default: AWS_REGION, AWS_DEFAULT_REGION, then the profile's).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// The profile of the shared config and credentials files (default: AWS_PROFILE, then
    /// `default`).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// `table` for people, `json` for scripts.
    #[arg(long, global = true, value_enum, default_value = "table")]
    pub output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

impl Conn {
    /// A Kinesis client for these settings. Fails, before any request, when no region is set
    /// anywhere: the SDK would otherwise fail each call with a less helpful message.
    pub async fn client(&self) -> Result<aws_sdk_kinesis::Client> {
        // Retries are aws-config's own (standard mode, 3 attempts), so AWS_MAX_ATTEMPTS,
        // AWS_RETRY_MODE and the profile's max_attempts/retry_mode change them as they do for
        // every AWS tool; past them a command fails and says why rather than hanging a script.
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        );
        if let Some(p) = &self.profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = &self.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(e) = &self.endpoint_url {
            loader = loader.endpoint_url(e);
        }
        let conf = loader.load().await;
        if conf.region().is_none() {
            bail!("no region: give --region, set AWS_REGION, or set one in the profile");
        }
        Ok(aws_sdk_kinesis::Client::new(&conf))
    }
}
