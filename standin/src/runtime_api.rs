//! The Lambda Runtime API (`/2018-06-01/runtime/...`), so the compiled
//! function binary runs against the stand-in exactly as it would in Lambda:
//! it long-polls for the next invocation and posts back a response or error.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::{lock, wait, Shared};

/// The ARN the stand-in invokes the function as.
pub const FUNCTION_ARN: &str =
    "arn:aws:lambda:us-east-1:111122223333:function:cfn-eks-pod-identity";

/// An invocation to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The event, sent as the body of `invocation/next`.
    pub event: Value,
    /// The function's time limit; the deadline is this long after the
    /// invocation is handed to the function (Lambda's clock starts at invoke,
    /// not while the function is still starting).
    pub timeout: Duration,
    /// Sent as `Lambda-Runtime-Invoked-Function-Arn`.
    pub function_arn: String,
}

impl Invocation {
    /// An invocation of [`FUNCTION_ARN`].
    pub fn new(event: Value, timeout: Duration) -> Self {
        Self {
            event,
            timeout,
            function_arn: FUNCTION_ARN.to_string(),
        }
    }
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The function returned this (JSON; non-JSON bytes become a JSON string).
    Response(Value),
    /// The function reported an error.
    Error {
        /// `errorType` of the body, else the `Lambda-Runtime-Function-Error-Type` header.
        error_type: String,
        /// `errorMessage` of the body, else the raw body.
        message: String,
    },
}

/// Everything known about one invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationRecord {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// What was queued.
    pub invocation: Invocation,
    /// When it was queued.
    pub queued_at: Instant,
    /// When a poller received it.
    pub handed_out_at: Option<Instant>,
    /// `Lambda-Runtime-Deadline-Ms` as sent (epoch milliseconds).
    pub deadline_ms: Option<u64>,
    /// The first outcome posted.
    pub outcome: Option<Outcome>,
    /// When the first outcome arrived.
    pub completed_at: Option<Instant>,
    /// Outcomes posted after the first (a correct function sends none).
    pub extra_outcomes: u32,
}

/// A report to `/runtime/init/error`.
#[derive(Debug, Clone, PartialEq)]
pub struct InitError {
    /// `errorType` of the body, else the header.
    pub error_type: String,
    /// `errorMessage` of the body, else the raw body.
    pub message: String,
    /// When it arrived.
    pub at: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<String>,
    records: Vec<InvocationRecord>,
    /// Request id to its place in `records`: a load test's thousands of
    /// invocations, each awaited by its own waiter, must not make every
    /// lookup a scan.
    index: HashMap<String, usize>,
    init_errors: Vec<InitError>,
    /// When each `invocation/next` request arrived, oldest first.
    polls: Vec<Instant>,
}

impl Inner {
    fn get(&self, request_id: &str) -> Option<&InvocationRecord> {
        self.records.get(*self.index.get(request_id)?)
    }

    fn get_mut(&mut self, request_id: &str) -> Option<&mut InvocationRecord> {
        let at = *self.index.get(request_id)?;
        self.records.get_mut(at)
    }
}

/// Invocations queued, in flight and done.
#[derive(Debug, Default)]
pub struct RuntimeState {
    inner: Mutex<Inner>,
    queued: Notify,
    completed: Notify,
    /// `/next` requests waiting for an invocation now.
    waiting: std::sync::atomic::AtomicUsize,
}

/// Counts one `/next` request as waiting for as long as it lives: hyper drops a request's
/// future when its client goes away, and this with it.
struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a std::sync::atomic::AtomicUsize) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// What a poller sends back for one invocation.
struct HandedOut {
    request_id: String,
    event: Vec<u8>,
    deadline_ms: u64,
    function_arn: String,
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl RuntimeState {
    /// Queues an invocation under `request_id`.
    pub fn enqueue(&self, request_id: String, invocation: Invocation) {
        {
            let mut inner = lock(&self.inner);
            let at = inner.records.len();
            inner.index.insert(request_id.clone(), at);
            inner.records.push(InvocationRecord {
                request_id: request_id.clone(),
                invocation,
                queued_at: Instant::now(),
                handed_out_at: None,
                deadline_ms: None,
                outcome: None,
                completed_at: None,
                extra_outcomes: 0,
            });
            inner.queue.push_back(request_id);
        }
        self.queued.notify_waiters();
    }

    /// The record of one invocation.
    pub fn record(&self, request_id: &str) -> Option<InvocationRecord> {
        lock(&self.inner).get(request_id).cloned()
    }

    /// All invocation records, oldest first.
    pub fn records(&self) -> Vec<InvocationRecord> {
        lock(&self.inner).records.clone()
    }

    /// All init error reports, oldest first.
    pub fn init_errors(&self) -> Vec<InitError> {
        lock(&self.inner).init_errors.clone()
    }

    /// When each `invocation/next` request arrived, oldest first.
    pub fn polls(&self) -> Vec<Instant> {
        lock(&self.inner).polls.clone()
    }

    /// How many `invocation/next` requests are waiting for an invocation now.
    pub fn waiting_polls(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits for the outcome of `request_id`, at most `timeout`.
    pub async fn wait_for_outcome(&self, request_id: &str, timeout: Duration) -> Option<Outcome> {
        // Every completion wakes every waiter: clone only the outcome, not the record.
        wait::until(&self.completed, Some(timeout), || {
            lock(&self.inner)
                .get(request_id)
                .and_then(|r| r.outcome.clone())
        })
        .await
    }

    /// Notes a `/next` request's arrival, before it waits for an invocation:
    /// a process's first poll marks the end of its init.
    fn polled(&self) {
        lock(&self.inner).polls.push(Instant::now());
    }

    fn hand_out(&self) -> Option<HandedOut> {
        let mut inner = lock(&self.inner);
        let request_id = inner.queue.pop_front()?;
        let record = inner.get_mut(&request_id)?;
        let deadline_ms = epoch_ms() + record.invocation.timeout.as_millis() as u64;
        record.handed_out_at = Some(Instant::now());
        record.deadline_ms = Some(deadline_ms);
        Some(HandedOut {
            request_id,
            event: serde_json::to_vec(&record.invocation.event).unwrap_or_default(),
            deadline_ms,
            function_arn: record.invocation.function_arn.clone(),
        })
    }

    /// Records an outcome; false if the request id was never handed out.
    fn complete(&self, request_id: &str, outcome: Outcome) -> bool {
        let known = {
            let mut inner = lock(&self.inner);
            match inner
                .get_mut(request_id)
                .filter(|r| r.handed_out_at.is_some())
            {
                Some(record) if record.outcome.is_some() => {
                    record.extra_outcomes += 1;
                    true
                }
                Some(record) => {
                    record.outcome = Some(outcome);
                    record.completed_at = Some(Instant::now());
                    true
                }
                None => false,
            }
        };
        self.completed.notify_waiters();
        known
    }

    fn init_error(&self, error: InitError) {
        lock(&self.inner).init_errors.push(error);
        self.completed.notify_waiters();
    }
}

/// The Runtime API routes.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json!({ "status": "OK" }).to_string(),
    )
        .into_response()
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json!({ "errorType": error_type, "errorMessage": message }).to_string(),
    )
        .into_response()
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.runtime.polled();
    // No timeout, as in Lambda. If the client goes away meanwhile, hyper
    // notices the EOF and drops this future, so no invocation is lost to it.
    let waiting = Waiting::new(&shared.runtime.waiting);
    let handed = wait::until(&shared.runtime.queued, None, || shared.runtime.hand_out()).await;
    drop(waiting);
    let Some(handed) = handed else {
        return runtime_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            "no invocation",
        );
    };
    let built = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header("lambda-runtime-aws-request-id", &handed.request_id)
        .header("lambda-runtime-deadline-ms", handed.deadline_ms.to_string())
        .header("lambda-runtime-invoked-function-arn", &handed.function_arn)
        .header("lambda-runtime-trace-id", shared.ids.trace_id())
        .body(Body::from(handed.event));
    built.unwrap_or_else(|_| {
        runtime_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            "invocation headers are not valid header values",
        )
    })
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    complete(&shared, &id, Outcome::Response(value))
}

/// Records an invocation's outcome; an id that was never handed out is refused as Lambda does.
fn complete(shared: &Shared, id: &str, outcome: Outcome) -> Response {
    if shared.runtime.complete(id, outcome) {
        accepted()
    } else {
        runtime_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "Invalid request ID",
        )
    }
}

/// `errorType` and `errorMessage` of an error report, with the fallbacks Lambda uses.
fn error_report(headers: &HeaderMap, body: &[u8]) -> (String, String) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let error_type = field("errorType")
        .or_else(|| {
            headers
                .get("lambda-runtime-function-error-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "Unknown".to_string());
    let message =
        field("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    (error_type, message)
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (error_type, message) = error_report(&headers, &body);
    complete(
        &shared,
        &id,
        Outcome::Error {
            error_type,
            message,
        },
    )
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (error_type, message) = error_report(&headers, &body);
    shared.runtime.init_error(InitError {
        error_type,
        message,
        at: Instant::now(),
    });
    accepted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_reports_prefer_the_body_and_fall_back_to_the_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "lambda-runtime-function-error-type",
            HeaderValue::from_static("unhandled"),
        );
        let body = br#"{"errorType":"&str","errorMessage":"boom"}"#;
        assert_eq!(error_report(&headers, body), ("&str".into(), "boom".into()));
        assert_eq!(
            error_report(&headers, b"raw"),
            ("unhandled".into(), "raw".into())
        );
        assert_eq!(error_report(&HeaderMap::new(), b"").0, "Unknown");
    }

    #[test]
    fn invocations_go_out_once_in_order_and_complete_once() {
        let state = RuntimeState::default();
        state.enqueue(
            "one".into(),
            Invocation::new(json!({"n": 1}), Duration::from_secs(3)),
        );
        state.enqueue(
            "two".into(),
            Invocation::new(json!({"n": 2}), Duration::from_secs(3)),
        );
        // Not handed out yet: an outcome for it is refused.
        assert!(!state.complete("one", Outcome::Response(json!(null))));
        let first = state.hand_out().unwrap();
        assert_eq!(first.request_id, "one");
        assert!(first.deadline_ms > epoch_ms());
        assert_eq!(state.hand_out().unwrap().request_id, "two");
        assert!(state.hand_out().is_none());
        assert!(state.complete("one", Outcome::Response(json!({"ok": true}))));
        assert!(state.complete("one", Outcome::Response(json!({"again": true}))));
        let record = state.record("one").unwrap();
        assert_eq!(record.outcome, Some(Outcome::Response(json!({"ok": true}))));
        assert_eq!(record.extra_outcomes, 1);
        assert!(!state.complete("nope", Outcome::Response(json!(null))));
    }
}
