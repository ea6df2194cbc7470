//! One request, in the order AWS checks things: CORS preflight, method, an empty body,
//! content type, body syntax, target, authentication, then the model's type and
//! constraint checks. Each step's failure is AWS's own answer for it, in the encoding AWS
//! chooses for it (XML-ish, JSON, the legacy JSON envelope or CBOR).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use tributary_model::{ApiError, ErrorCode, Value};
use tributary_protocol::target::{self, Target};
use tributary_protocol::Format;

use crate::auth::{self, ConnInfo};
use crate::respond::{self, Body, Refusal};
use crate::{cors, dispatch, observe, AppState};

pub async fn handle(state: Arc<AppState>, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    // Before the method, credentials or anything else: browsers send no credentials on a
    // preflight, and AWS answers it the same with and without them.
    if state.cors && cors::is_preflight(req.method(), req.headers()) {
        return cors::preflight(req.headers());
    }
    let (parts, body) = req.into_parts();
    // Metrics and health probes come without credentials, and before the front door's
    // refusal of every GET.
    if let Some(resp) = observe::endpoint(&state, &parts).await {
        return resp;
    }
    let mut note = Note {
        stream: None,
        wanted: tracing::enabled!(target: "tributary::request", tracing::Level::DEBUG),
    };
    let mut resp = answer(&state, &parts, body, &mut note).await;
    if state.cors {
        cors::decorate(&parts.headers, &mut resp);
    }
    record(&state, &parts, &resp, note, started.elapsed());
    resp
}

/// What the request log line needs from inside the pipeline: the stream the request names,
/// only looked up when debug logging is on.
struct Note {
    stream: Option<String>,
    wanted: bool,
}

/// The request's latency histogram and its debug log line: request id (as sent in
/// `x-amzn-RequestId`), operation, stream, status, latency. Requests that name no Kinesis
/// operation (KMS, refused at the front door) are logged with the target header instead.
fn record(
    state: &AppState,
    parts: &http::request::Parts,
    resp: &Response<Body>,
    note: Note,
    latency: std::time::Duration,
) {
    let header = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok());
    let op = match target::parse(header) {
        Target::Known(op) => Some(op),
        _ => None,
    };
    if let Some(op) = op {
        let outcome = observe::Outcome::of(resp.status());
        state.requests.record(op, outcome, latency);
    }
    if note.wanted {
        let request_id = resp
            .headers()
            .get("x-amzn-requestid")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        tracing::debug!(
            target: "tributary::request",
            request_id,
            operation = op.map_or(header.unwrap_or_default(), |o| o.name()),
            stream = note.stream.as_deref().unwrap_or_default(),
            status = resp.status().as_u16(),
            latency_ms = latency.as_secs_f64() * 1e3,
            "request"
        );
    }
}

/// Everything but the preflight. Each front-door answer below is AWS's, recorded in
/// kinesalite's test/connection.js (run against AWS; its index.js states the same order of
/// checks); the test names are quoted beside each.
async fn answer(
    state: &AppState,
    parts: &http::request::Parts,
    body: Incoming,
    note: &mut Note,
) -> Response<Body> {
    // "should return AccessDeniedException if GET" / "... if PUT" / "... if DELETE".
    if parts.method != Method::POST {
        return respond::refuse(Refusal::NoOperation);
    }
    let content = ContentKind::of(&parts.headers);
    let target_header = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok());
    let kms_op = crate::kms::target(target_header);
    let target = target::parse(target_header);

    let body = match Limited::new(body, state.max_body_bytes).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                let err = ApiError::new(
                    ErrorCode::RequestEntityTooLargeException,
                    "Request is too large",
                );
                return respond::error(content.format().unwrap_or(Format::Json), &err);
            }
            // The client went away or sent a broken body: nothing useful to answer.
            return respond::refuse(Refusal::BrokenBody);
        }
    };

    // The built-in key service shares the endpoint; it has its own checks and answers.
    if let Some(op) = kms_op {
        return crate::kms::answer(state, parts, op, content == ContentKind::AmzJson, body).await;
    }

    // An empty body is judged before the content type: in JSON for AWS's JSON type, in
    // CBOR for anything else, none and `application/json` included ("should return CBOR
    // UnknownOperationException if POST with no body", "... if x-amz-json-1.0
    // Content-Type", "... if random target", "CBOR SerializationException if no
    // Content-Type", "... if valid target and application/json", "SerializationException
    // if no body").
    if body.is_empty() {
        let code = match target {
            Target::Known(_) => ErrorCode::SerializationException,
            _ => ErrorCode::UnknownOperationException,
        };
        let format = match content {
            ContentKind::AmzJson => Format::Json,
            _ => Format::Cbor,
        };
        return respond::error(format, &ApiError::bare(code));
    }
    let format = match content {
        ContentKind::AmzJson => Format::Json,
        ContentKind::Cbor => Format::Cbor,
        // "should return SerializationException if non-JSON body and application/json",
        // "UnknownOperationException if valid target and body and application/json": AWS's
        // old JSON 1.0 envelope, and no further.
        ContentKind::PlainJson => return respond::legacy_json(is_json_object(&body)),
        // "should return AccessDeniedException if body and no Content-Type"; with a target
        // that names a service and an operation, kinesalite index.js answers 404.
        ContentKind::Other => {
            return match target {
                Target::Missing => respond::refuse(Refusal::NoOperation),
                _ => respond::refuse(Refusal::UnknownOperation),
            }
        }
    };
    match serve(state, format, target, parts, body, note).await {
        Ok(resp) => resp,
        Err(e) => respond::error(format, &e),
    }
}

async fn serve(
    state: &AppState,
    format: Format,
    target: Target,
    parts: &http::request::Parts,
    body: Bytes,
    note: &mut Note,
) -> Result<Response<Body>, ApiError> {
    let op = match target {
        Target::Known(op) => Some(op),
        _ => None,
    };
    let parsed = tributary_protocol::parse(op, format, &body)?;
    let Some(op) = op else {
        return Err(ApiError::bare(ErrorCode::UnknownOperationException));
    };
    let conn = parts
        .extensions
        .get::<ConnInfo>()
        .copied()
        .unwrap_or(ConnInfo {
            peer: ([127, 0, 0, 1], 0).into(),
            tls: false,
        });
    let caller = auth::authenticate(&state.auth, auth::Service::Kinesis, parts, &body, &conn)?;
    let input = parsed.check(op, format)?;
    if note.wanted {
        let r = input.resources();
        // A stream's name, or the name at the end of its ARN.
        note.stream = r
            .stream_name
            .or_else(|| r.stream_arn.and_then(|a| a.rsplit('/').next()))
            .map(str::to_owned);
    }
    let account_id = caller.account(&state.account_id).to_string();
    let key_access = auth::authorize(
        &state.engine,
        state.keys.as_ref(),
        caller.principal,
        &caller.region,
        &input,
        &conn,
    )?;
    let ctx = tributary_engine::RequestContext {
        account_id,
        region: caller.region,
        key_access,
    };
    let reply = dispatch::dispatch(&state.engine, &ctx, format, input).await?;
    Ok(respond::reply(format, reply))
}

/// The request's content type, as AWS's front door sorts it: the media type before any
/// `;`, spaces trimmed ("... application/json with spaces", "... content type with
/// spaces": `   application/x-amz-json-1.1   ;whatever` is AWS's JSON type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContentKind {
    AmzJson,
    Cbor,
    /// `application/json`: parsed, then answered in AWS's legacy envelope.
    PlainJson,
    /// None, or one the service does not speak (`application/x-amz-json-1.0` included).
    Other,
}

impl ContentKind {
    fn of(headers: &http::HeaderMap) -> ContentKind {
        let Some(ct) = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
        else {
            return ContentKind::Other;
        };
        match ct.split(';').next().unwrap_or("").trim() {
            "application/x-amz-json-1.1" => ContentKind::AmzJson,
            "application/x-amz-cbor-1.1" => ContentKind::Cbor,
            "application/json" => ContentKind::PlainJson,
            _ => ContentKind::Other,
        }
    }

    fn format(self) -> Option<Format> {
        match self {
            ContentKind::AmzJson | ContentKind::PlainJson => Some(Format::Json),
            ContentKind::Cbor => Some(Format::Cbor),
            ContentKind::Other => None,
        }
    }
}

/// Whether the body is a JSON object or array: what AWS's legacy JSON layer parses before
/// it gives up on the operation (kinesalite index.js keeps any JSON "object", arrays too).
fn is_json_object(body: &[u8]) -> bool {
    matches!(
        tributary_protocol::json::decode(body),
        Ok(Value::Map(_) | Value::List(_))
    )
}
