//! One request, in the order AWS checks things: method, content type, target, body syntax,
//! operation, authentication, then the model's type and constraint checks. Each step's
//! failure is AWS's own answer for it.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use tributary_model::{ApiError, ErrorCode};
use tributary_protocol::target::{self, Target};
use tributary_protocol::Format;

use crate::auth::{self, ConnInfo};
use crate::respond::{self, Body, Refusal};
use crate::{cors, dispatch, AppState};

pub async fn handle(state: Arc<AppState>, req: Request<Incoming>) -> Response<Body> {
    // Before the method, credentials or anything else: browsers send no credentials on a
    // preflight, and AWS answers it the same with and without them.
    if cors::is_preflight(req.method(), req.headers()) {
        return cors::preflight(req.headers());
    }
    let (parts, body) = req.into_parts();
    let mut resp = answer(&state, &parts, body).await;
    cors::decorate(&parts.headers, &mut resp);
    resp
}

async fn answer(state: &AppState, parts: &http::request::Parts, body: Incoming) -> Response<Body> {
    if parts.method != Method::POST {
        return respond::refuse(Refusal::NoOperation);
    }
    let format = content_format(&parts.headers);
    let target = target::parse(
        parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok()),
    );

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
                return respond::error(format.unwrap_or(Format::Json), &err);
            }
            // The client went away or sent a broken body: nothing useful to answer.
            return respond::refuse(Refusal::BrokenBody);
        }
    };

    let Some(format) = format else {
        return match target {
            Target::Missing => respond::refuse(Refusal::NoOperation),
            _ => respond::refuse(Refusal::UnknownOperation),
        };
    };
    if body.is_empty() {
        let code = match target {
            Target::Known(_) => ErrorCode::SerializationException,
            _ => ErrorCode::UnknownOperationException,
        };
        return respond::error(format, &ApiError::bare(code));
    }
    match serve(state, format, target, parts, body).await {
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
    let caller = auth::authenticate(&state.auth, parts, &body, &conn)?;
    let input = parsed.check(op, format)?;
    auth::authorize(&state.engine, &caller, &input, &conn)?;
    let ctx = tributary_engine::RequestContext {
        account_id: caller.account(&state.account_id).to_string(),
        region: caller.region,
    };
    let reply = dispatch::dispatch(&state.engine, &ctx, format, input).await?;
    Ok(respond::reply(format, reply))
}

fn content_format(headers: &http::HeaderMap) -> Option<Format> {
    let ct = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    let ct = ct.split(';').next().unwrap_or("").trim();
    match ct {
        "application/x-amz-json-1.1" | "application/json" => Some(Format::Json),
        "application/x-amz-cbor-1.1" => Some(Format::Cbor),
        _ => None,
    }
}
