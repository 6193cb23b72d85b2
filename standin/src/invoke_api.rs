//! The Lambda `Invoke` API (`POST /2015-03-31/functions/{name}/invocations`),
//! so that with `cfn-standin serve` a person can send events to the function
//! with `aws lambda invoke --endpoint-url ...`, as they would in AWS.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use crate::runtime_api::{Invocation, Outcome};
use crate::Shared;

/// How long a synchronous invoke waits for the function, like Lambda's maximum timeout.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(900);

/// The Invoke route.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/2015-03-31/functions/{name}/invocations", post(invoke))
}

fn lambda_error(status: StatusCode, error_type: &'static str, message: &str) -> Response {
    (
        status,
        [
            (
                HeaderName::from_static("x-amzn-errortype"),
                HeaderValue::from_static(error_type),
            ),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        json!({ "Type": "User", "message": message }).to_string(),
    )
        .into_response()
}

async fn invoke(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let event: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(event) => event,
            Err(_) => {
                return lambda_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestContentException",
                    "Could not parse request body into json",
                )
            }
        }
    };
    let invocation_type = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse");
    let request_id = shared.ids.uuid();
    shared
        .runtime
        .enqueue(request_id.clone(), Invocation::new(event, INVOKE_TIMEOUT));
    if invocation_type == "Event" {
        return StatusCode::ACCEPTED.into_response();
    }
    let outcome = shared
        .runtime
        .wait_for_outcome(&request_id, INVOKE_TIMEOUT)
        .await;
    let json_type = (
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    match outcome {
        Some(Outcome::Response(value)) => {
            (StatusCode::OK, [json_type], value.to_string()).into_response()
        }
        Some(Outcome::Error {
            error_type,
            message,
        }) => (
            StatusCode::OK,
            [
                json_type,
                (
                    HeaderName::from_static("x-amz-function-error"),
                    HeaderValue::from_static("Unhandled"),
                ),
            ],
            json!({ "errorType": error_type, "errorMessage": message }).to_string(),
        )
            .into_response(),
        None => lambda_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            "The function did not answer in time.",
        ),
    }
}
