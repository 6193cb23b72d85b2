//! The EKS Pod Identity API over HTTP, in the REST-JSON form the AWS SDKs and
//! the AWS CLI speak: routes, request decoding, the call log and fault gate,
//! and JSON answers.

pub mod error;
pub mod model;
pub mod store;
pub mod validate;

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::conn::{Connection, MaybeConnection};
use crate::faults::Request;
use crate::gate::{self, Verdict};
use crate::wire::{parse_query, percent_decode, signing_region};
use crate::{lock, Shared};
use error::EksError;
use model::{CreateInput, EksCall, ListInput, TagInput, UpdateInput};
use store::EksStore;
use validate::parse_association_arn;

/// The EKS routes.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/clusters/{name}/pod-identity-associations",
            get(list).post(create),
        )
        .route(
            "/clusters/{name}/pod-identity-associations/{id}",
            get(describe).post(update).delete(delete),
        )
        // A wildcard, because a client may leave the ARN's slashes unencoded.
        .route("/tags/{*arn}", get(list_tags).post(tag).delete(untag))
        .layer(axum::middleware::from_fn(carry_out))
}

/// Handles `request` in a task of its own, so that a client that goes away before the answer
/// (an attempt timed out, a Lambda cut off at its deadline) does not cancel it: EKS, like any
/// AWS service, carries out a request it has received whether or not anyone is left to read
/// the answer. A client can then never take a request it abandoned for one that did nothing.
async fn carry_out(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// What every EKS handler needs from the request head.
pub struct EksRequest {
    region: String,
    security_token: Option<String>,
    conn: Option<Connection>,
    uri: Uri,
}

impl<S: Send + Sync> FromRequestParts<S> for EksRequest {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            region: signing_region(&parts.headers),
            security_token: parts
                .headers
                .get("x-amz-security-token")
                .and_then(|token| token.to_str().ok())
                .map(str::to_owned),
            conn: MaybeConnection::from_request_parts(parts, state).await?.0,
            uri: parts.uri.clone(),
        })
    }
}

/// The resource a request names, decoded from its path.
#[derive(Debug, Default)]
struct Target {
    cluster: String,
    id: String,
    arn: String,
}

/// `/clusters/{name}/pod-identity-associations[/{id}]`, decoded from the raw
/// path so that the stand-in decides how bad escapes are answered.
fn association_target(uri: &Uri) -> Result<Target, EksError> {
    let labels = uri
        .path()
        .split('/')
        .map(percent_decode)
        .collect::<Result<Vec<String>, _>>()
        .map_err(|e| EksError::invalid_request(format!("Invalid request path: {e}")))?;
    Ok(Target {
        cluster: labels.get(2).cloned().unwrap_or_default(),
        id: labels.get(4).cloned().unwrap_or_default(),
        arn: String::new(),
    })
}

/// `/tags/{resourceArn}`: everything after the prefix, decoded.
fn tag_target(uri: &Uri) -> Result<Target, EksError> {
    let raw = uri.path().strip_prefix("/tags/").unwrap_or_default();
    let arn = percent_decode(raw)
        .map_err(|e| EksError::bad_request(format!("Invalid resource ARN: {e}")))?;
    let parsed = parse_association_arn(&arn);
    Ok(Target {
        cluster: parsed
            .as_ref()
            .map(|p| p.cluster.clone())
            .unwrap_or_default(),
        id: parsed.map(|p| p.id).unwrap_or_default(),
        arn,
    })
}

fn parse_body<T: DeserializeOwned + Default>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, EksError> {
    let body = body
        .map_err(|e| EksError::invalid_request(format!("Could not read the request body: {e}")))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&body)
        .map_err(|e| EksError::invalid_request(format!("Could not parse the request body: {e}")))
}

fn json_ok(value: Value) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        value.to_string(),
    )
        .into_response()
}

fn some_if_set(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Logs the call, applies faults, runs `op` on the store, and answers.
async fn run(
    shared: &Shared,
    req: &EksRequest,
    operation: &'static str,
    target: Result<Target, EksError>,
    op: impl FnOnce(&Shared, &mut EksStore, &Target) -> Result<Value, EksError>,
) -> Response {
    let (cluster, id) = match &target {
        Ok(t) => (some_if_set(&t.cluster), some_if_set(&t.id)),
        Err(_) => (None, None),
    };
    let index = lock(&shared.eks).log_call(EksCall {
        operation: operation.to_string(),
        region: req.region.clone(),
        cluster,
        association_id: id,
        status: None,
        security_token: req.security_token.clone(),
    });
    let result = match gate::admit(shared, Request::Eks(operation), req.conn.as_ref()).await {
        Verdict::Reset => {
            // Never reaches the client: the connection is already dead.
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Verdict::Fail {
            status,
            error_type,
            message,
        } => Err(EksError::new(status, &error_type, message)),
        Verdict::Proceed => target.and_then(|t| op(shared, &mut lock(&shared.eks), &t)),
        Verdict::ProceedThenReset => {
            let _ = target.and_then(|t| op(shared, &mut lock(&shared.eks), &t));
            gate::reset(req.conn.as_ref());
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let response = match result {
        Ok(value) => json_ok(value),
        Err(error) => error.into_response(),
    };
    lock(&shared.eks).finish_call(index, Some(response.status().as_u16()));
    shared.eks_answered.notify_waiters();
    response
}

async fn create(
    State(shared): State<Arc<Shared>>,
    req: EksRequest,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let target = association_target(&req.uri);
    run(
        &shared,
        &req,
        "CreatePodIdentityAssociation",
        target,
        |shared, store, t| {
            let input: CreateInput = parse_body(body)?;
            let association =
                store.create(&req.region, &t.cluster, input, &shared.ids, |since| {
                    lock(&shared.faults).take_conflict_after_delete(since, &shared.ids)
                })?;
            Ok(json!({ "association": association }))
        },
    )
    .await
}

async fn describe(State(shared): State<Arc<Shared>>, req: EksRequest) -> Response {
    let target = association_target(&req.uri);
    run(
        &shared,
        &req,
        "DescribePodIdentityAssociation",
        target,
        |_, store, t| {
            let association = store.describe(&req.region, &t.cluster, &t.id)?;
            Ok(json!({ "association": association }))
        },
    )
    .await
}

async fn update(
    State(shared): State<Arc<Shared>>,
    req: EksRequest,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let target = association_target(&req.uri);
    run(
        &shared,
        &req,
        "UpdatePodIdentityAssociation",
        target,
        |shared, store, t| {
            let input: UpdateInput = parse_body(body)?;
            let association = store.update(&req.region, &t.cluster, &t.id, input, &shared.ids)?;
            Ok(json!({ "association": association }))
        },
    )
    .await
}

async fn delete(State(shared): State<Arc<Shared>>, req: EksRequest) -> Response {
    let target = association_target(&req.uri);
    run(
        &shared,
        &req,
        "DeletePodIdentityAssociation",
        target,
        |_, store, t| {
            let association = store.delete(&req.region, &t.cluster, &t.id)?;
            Ok(json!({ "association": association }))
        },
    )
    .await
}

async fn list(State(shared): State<Arc<Shared>>, req: EksRequest) -> Response {
    let target = association_target(&req.uri);
    run(
        &shared,
        &req,
        "ListPodIdentityAssociations",
        target,
        |_, store, t| {
            let query = parse_query(req.uri.query())
                .map_err(|e| EksError::invalid_parameter(format!("Invalid query string: {e}")))?;
            let mut input = ListInput::default();
            for (name, value) in query {
                match name.as_str() {
                    "namespace" => input.namespace = Some(value),
                    "serviceAccount" => input.service_account = Some(value),
                    "maxResults" => input.max_results = Some(value),
                    "nextToken" => input.next_token = Some(value),
                    _ => {}
                }
            }
            let (summaries, next_token) = store.list(&req.region, &t.cluster, &input)?;
            let mut answer = json!({ "associations": summaries });
            if let Some(token) = next_token {
                answer["nextToken"] = Value::String(token);
            }
            Ok(answer)
        },
    )
    .await
}

async fn tag(
    State(shared): State<Arc<Shared>>,
    req: EksRequest,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let target = tag_target(&req.uri);
    run(&shared, &req, "TagResource", target, |_, store, t| {
        let input: TagInput = parse_body(body).map_err(|e| EksError::bad_request(e.message))?;
        store.tag(&t.arn, input.tags)?;
        Ok(json!({}))
    })
    .await
}

async fn untag(State(shared): State<Arc<Shared>>, req: EksRequest) -> Response {
    let target = tag_target(&req.uri);
    run(&shared, &req, "UntagResource", target, |_, store, t| {
        let keys: Vec<String> = parse_query(req.uri.query())
            .map_err(|e| EksError::bad_request(format!("Invalid query string: {e}")))?
            .into_iter()
            .filter(|(name, _)| name == "tagKeys")
            .map(|(_, value)| value)
            .collect();
        store.untag(&t.arn, &keys)?;
        Ok(json!({}))
    })
    .await
}

async fn list_tags(State(shared): State<Arc<Shared>>, req: EksRequest) -> Response {
    let target = tag_target(&req.uri);
    run(
        &shared,
        &req,
        "ListTagsForResource",
        target,
        |_, store, t| Ok(json!({ "tags": store.list_tags(&t.arn)? })),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn association_paths_are_decoded() {
        let uri: Uri = "/clusters/my%20cluster/pod-identity-associations/a-1"
            .parse()
            .unwrap();
        let t = association_target(&uri).unwrap();
        assert_eq!((t.cluster.as_str(), t.id.as_str()), ("my cluster", "a-1"));
        let uri: Uri = "/clusters/c/pod-identity-associations".parse().unwrap();
        assert_eq!(association_target(&uri).unwrap().id, "");
        let bad: Uri = "/clusters/%ZZ/pod-identity-associations".parse().unwrap();
        assert_eq!(
            association_target(&bad).unwrap_err().error_type,
            "InvalidRequestException"
        );
    }

    #[test]
    fn tag_paths_accept_encoded_and_raw_slashes() {
        let arn = "arn:aws:eks:eu-west-1:111122223333:podidentityassociation/c/a-0123456789abcdefg";
        for path in [
            format!("/tags/{}", crate::wire::percent_encode(arn, false)),
            format!("/tags/{arn}"),
        ] {
            let t = tag_target(&path.parse().unwrap()).unwrap();
            assert_eq!(t.arn, arn);
            assert_eq!(
                (t.cluster.as_str(), t.id.as_str()),
                ("c", "a-0123456789abcdefg")
            );
        }
    }

    #[test]
    fn empty_bodies_are_empty_objects_and_bad_json_is_a_client_error() {
        let empty: CreateInput = parse_body(Ok(Bytes::from_static(b" "))).unwrap();
        assert!(empty.namespace.is_none());
        let e =
            parse_body::<CreateInput>(Ok(Bytes::from_static(b"{\"namespace\": 5}"))).unwrap_err();
        assert_eq!(
            (e.status, e.error_type.as_str()),
            (400, "InvalidRequestException")
        );
    }
}
