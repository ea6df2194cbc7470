//! RemoteKms (aws-sdk-kms) against the built-in key service served over loopback HTTP by a
//! minimal JSON 1.1 front (no SigV4 check: that is the server's). Shows that the SDK reads
//! this service's answers, blobs, dates and errors, and that RemoteKms maps KMS's errors.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use serde_json::json;
use tributary_kms::api::{self, KmsOperation as Op};
use tributary_kms::{KeyError, KeyService, KeyState, LocalKms, RemoteKms};

async fn answer(kms: Arc<LocalKms>, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let op = target
        .strip_prefix(api::TARGET_PREFIX)
        .and_then(|t| t.strip_prefix('.'))
        .and_then(api::KmsOperation::from_name)
        .expect("a served operation");
    let result = match api::parse(op, &body) {
        Ok(req) => kms.execute(&scope(), req).await,
        Err(f) => Err(f),
    };
    let (status, body) = match result {
        Ok(body) => (200, body),
        Err(f) => {
            let mut err = json!({"__type": f.code});
            if let Some(m) = f.message {
                err["message"] = json!(m);
            }
            (f.status, Bytes::from(err.to_string()))
        }
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.1")
        .body(Full::new(body))
        .unwrap()
}

async fn serve(kms: Arc<LocalKms>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let kms = kms.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let kms = kms.clone();
                    async move { Ok::<_, Infallible>(answer(kms, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn remote_kms_over_the_sdk_against_the_builtin_service() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let (_store, local) = open().await;
        let endpoint = serve(local.clone()).await;
        let remote = RemoteKms::new(&endpoint, REGION, "AKIDTEST", "secret", Some("token"));

        let info = remote
            .describe_key(&scope(), "alias/aws/kinesis")
            .await
            .unwrap();
        assert_eq!(info.state, KeyState::Enabled);
        assert_eq!(
            info,
            local
                .describe_key(&scope(), "alias/aws/kinesis")
                .await
                .unwrap()
        );

        let context = vec![(
            "aws:kinesis:arn".to_string(),
            "arn:aws:kinesis:us-east-1:123456789012:stream/s".to_string(),
        )];
        let dk = remote.generate_data_key(&info.arn, &context).await.unwrap();
        assert_eq!(
            &remote
                .decrypt(&info.arn, &dk.ciphertext, &context)
                .await
                .unwrap()[..],
            &dk.plaintext[..]
        );
        assert_eq!(
            &local
                .decrypt(&info.arn, &dk.ciphertext, &context)
                .await
                .unwrap()[..],
            &dk.plaintext[..]
        );
        assert!(matches!(
            remote.decrypt(&info.arn, &dk.ciphertext, &[]).await,
            Err(KeyError::InvalidCiphertext(_))
        ));
        assert_eq!(remote.key_policy(&info.arn).await, Ok(None));

        let (id, arn) = create_key(&local).await;
        call(&local, Op::DisableKey, json!({"KeyId": id}))
            .await
            .unwrap();
        assert_eq!(
            remote.describe_key(&scope(), &arn).await.unwrap().state,
            KeyState::Disabled
        );
        assert_eq!(
            remote.generate_data_key(&arn, &[]).await.unwrap_err(),
            KeyError::Disabled(format!("{arn} is disabled."))
        );
        call(&local, Op::ScheduleKeyDeletion, json!({"KeyId": id}))
            .await
            .unwrap();
        assert_eq!(
            remote.describe_key(&scope(), &id).await.unwrap().state,
            KeyState::PendingDeletion
        );
        assert!(matches!(
            remote.generate_data_key(&arn, &[]).await,
            Err(KeyError::InvalidState(_))
        ));
        assert!(matches!(
            remote.describe_key(&scope(), "alias/none").await,
            Err(KeyError::NotFound(_))
        ));

        // The SDK's own client reads every served operation's answer.
        let sdk = aws_sdk_kms_client(&endpoint);
        let created = sdk.create_key().description("sdk").send().await.unwrap();
        let meta = created.key_metadata().unwrap();
        assert_eq!(meta.description(), Some("sdk"));
        assert!(meta.creation_date().is_some());
        let key = meta.key_id().to_string();
        sdk.create_alias()
            .alias_name("alias/sdk")
            .target_key_id(&key)
            .send()
            .await
            .unwrap();
        let aliases = sdk.list_aliases().key_id(&key).send().await.unwrap();
        assert_eq!(aliases.aliases()[0].alias_name(), Some("alias/sdk"));
        let keys = sdk.list_keys().limit(1).send().await.unwrap();
        assert!(keys.truncated());
        assert!(keys.next_marker().is_some());
        let enc = sdk
            .encrypt()
            .key_id("alias/sdk")
            .plaintext(aws_sdk_kms::primitives::Blob::new("hi"))
            .send()
            .await
            .unwrap();
        let dec = sdk
            .decrypt()
            .ciphertext_blob(enc.ciphertext_blob().unwrap().clone())
            .send()
            .await
            .unwrap();
        assert_eq!(dec.plaintext().unwrap().as_ref(), b"hi");
        sdk.disable_key().key_id(&key).send().await.unwrap();
        sdk.enable_key().key_id(&key).send().await.unwrap();
        let sched = sdk
            .schedule_key_deletion()
            .key_id(&key)
            .pending_window_in_days(7)
            .send()
            .await
            .unwrap();
        assert!(sched.deletion_date().is_some());
        sdk.cancel_key_deletion().key_id(&key).send().await.unwrap();
        sdk.delete_alias()
            .alias_name("alias/sdk")
            .send()
            .await
            .unwrap();
        let err = sdk
            .describe_key()
            .key_id("alias/sdk")
            .send()
            .await
            .unwrap_err();
        assert!(err.into_service_error().is_not_found_exception());
        let err = sdk
            .schedule_key_deletion()
            .key_id(&key)
            .pending_window_in_days(3)
            .send()
            .await
            .unwrap_err();
        let err = err.into_service_error();
        assert_eq!(
            aws_sdk_kms::error::ProvideErrorMetadata::code(&err),
            Some("ValidationException")
        );
    })
    .await
    .expect("bounded");
}

fn aws_sdk_kms_client(endpoint: &str) -> aws_sdk_kms::Client {
    let config = aws_sdk_kms::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_kms::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        ))
        .build();
    aws_sdk_kms::Client::from_conf(config)
}
