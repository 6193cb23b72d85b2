//! A local stand-in for everything the `cfn-eks-pod-identity` Lambda function
//! talks to: the EKS Pod Identity API, the S3 bucket behind CloudFormation's
//! response URL, and the Lambda Runtime API that feeds it events (plus
//! Lambda's Invoke API, to send it events by hand). One HTTP server on
//! 127.0.0.1 serves them all, so the real compiled function can be run and
//! observed without AWS; [`Standin::start_tls`] serves EKS and the bucket over
//! HTTPS too, as a deployed function reaches them.
//!
//! [`Standin`] starts the server and is the test's window into it: queue
//! invocations, read uploaded responses, inspect and seed associations,
//! inject faults. [`demo`] (`make run`), [`soak`] (`make soak`) and [`bench`](mod@bench)
//! (`make bench`) run the real function binary against it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
mod bucket;
mod conn;
pub mod demo;
mod eks;
mod faults;
mod gate;
pub mod hot_text;
pub mod ids;
mod invoke_api;
mod runtime_api;
pub mod soak;
mod tls;
mod wait;
pub mod wire;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use tokio::net::TcpListener;

pub use bucket::{check_upload, presigned_url, ReceivedPut, RejectedPut, S3Error, SIGNATURE};
pub use eks::model::{Association, AssociationSpec, EksCall, ACCOUNT_ID};
pub use faults::{Fault, FaultTarget, InjectedFault};
pub use runtime_api::{InitError, Invocation, InvocationRecord, Outcome, FUNCTION_ARN};
pub use tls::CERTIFICATE_FILE as TLS_CERTIFICATE_FILE;

use bucket::BucketState;
use conn::{Connection, KillableListener};
use eks::store::EksStore;
use faults::FaultBook;
use ids::IdGen;
use runtime_api::RuntimeState;

/// The fake secret access key of the function's credentials: a secret, which tests look for
/// in the function's logs.
pub const SECRET_ACCESS_KEY: &str = "standin-secret";
/// The fake session token of the function's credentials, which Lambda always sets (the
/// credentials of the function's role are temporary): a secret, like [`SECRET_ACCESS_KEY`].
pub const SESSION_TOKEN: &str = "standin-session-token-5e55107";

/// Locks a mutex, recovering the data if a panicking thread poisoned it: the
/// state stays usable for the assertions that follow.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The state shared by the request handlers and the handle.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) eks: Mutex<EksStore>,
    /// Notified when an EKS call has been answered.
    pub(crate) eks_answered: tokio::sync::Notify,
    pub(crate) bucket: BucketState,
    pub(crate) runtime: RuntimeState,
    pub(crate) faults: Mutex<FaultBook>,
    pub(crate) ids: IdGen,
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(eks::routes())
        .merge(bucket::routes())
        .merge(runtime_api::routes())
        .merge(invoke_api::routes())
        // An SDK pointed at a wrong path should say so, in a form it can parse.
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                [
                    (
                        eks::error::ERROR_TYPE_HEADER,
                        HeaderValue::from_static("UnknownOperationException"),
                    ),
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    ),
                ],
                r#"{"message":"The stand-in has no route for this request."}"#,
            )
                .into_response()
        })
        .with_state(shared)
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    /// The response bucket's own port, as S3 is a host of its own (see `bucket_url`).
    bucket_addr: SocketAddr,
    tls: bool,
    servers: [tokio::task::AbortHandle; 2],
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Stop accepting once the last handle is gone; each test gets a fresh server.
        for server in &self.servers {
            server.abort();
        }
    }
}

/// A running stand-in server and the handle to its state.
///
/// Cloning is cheap (an `Arc`); all clones see the same server, which stops
/// accepting connections when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Standin {
    inner: Arc<Inner>,
}

impl Standin {
    /// The ARN invocations are made as, unless [`invoke_with`](Self::invoke_with) says otherwise.
    pub const FUNCTION_ARN: &'static str = FUNCTION_ARN;

    /// The function name the Lambda environment announces.
    pub const FUNCTION_NAME: &'static str = "cfn-eks-pod-identity";

    /// Starts a server on an ephemeral port of 127.0.0.1, on the current tokio runtime.
    ///
    /// The server only runs while that runtime gets to run: a test on a
    /// single-threaded runtime must not block it (use `tokio::process`, not
    /// `std::process`, to run a client).
    pub async fn start() -> std::io::Result<Standin> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a server on `addr`, on the current tokio runtime.
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<Standin> {
        Self::serve(addr, false).await
    }

    /// Like [`start`](Self::start), but EKS and the bucket are reached over HTTPS
    /// ([`url`](Self::url), [`response_url`](Self::response_url)), with the
    /// certificate in [`TLS_CERTIFICATE_FILE`]. Every route is also served as
    /// plain HTTP on the same ports; the Lambda Runtime API is used that way, as
    /// Lambda's is.
    pub async fn start_tls() -> std::io::Result<Standin> {
        Self::start_tls_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Like [`start_tls`](Self::start_tls), on `addr`.
    pub async fn start_tls_on(addr: SocketAddr) -> std::io::Result<Standin> {
        Self::serve(addr, true).await
    }

    async fn serve(addr: SocketAddr, tls: bool) -> std::io::Result<Standin> {
        let acceptor = if tls { Some(tls::acceptor()?) } else { None };
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let bucket_listener = TcpListener::bind(SocketAddr::new(addr.ip(), 0)).await?;
        let bucket_addr = bucket_listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        // Both ports serve every route, from the same state.
        let servers = [listener, bucket_listener].map(|listener| {
            let app =
                router(Arc::clone(&shared)).into_make_service_with_connect_info::<Connection>();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // serve only returns on a listener error, which leaves nothing to do.
                let _ = axum::serve(KillableListener::new(listener, acceptor), app).await;
            })
            .abort_handle()
        });
        Ok(Standin {
            inner: Arc::new(Inner {
                shared,
                addr,
                bucket_addr,
                tls,
                servers,
            }),
        })
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The endpoint of EKS: `http://127.0.0.1:{port}`, or with HTTPS
    /// `https://localhost:{port}`, a name, which a client resolves as it
    /// resolves EKS's.
    pub fn url(&self) -> String {
        if self.inner.tls {
            format!("https://localhost:{}", self.inner.addr.port())
        } else {
            self.plain_url()
        }
    }

    /// Where response URLs point: `http://127.0.0.1:{bucket port}`, or with HTTPS
    /// `https://127.0.0.1:{bucket port}`, a port of its own, as S3 is a host apart from
    /// EKS's in AWS, so that a function opens a connection (and a handshake) for each, as
    /// it does deployed, rather than sending its response over its EKS connection. By
    /// address: what a function does beyond the bench's floor, which only PUTs, is then
    /// what it does deployed, one more host to connect to (and with HTTPS, to resolve and
    /// to shake hands with).
    fn bucket_url(&self) -> String {
        let scheme = if self.inner.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.inner.bucket_addr)
    }

    /// The response bucket's own address (every route is served there too).
    pub fn bucket_addr(&self) -> SocketAddr {
        self.inner.bucket_addr
    }

    /// `http://127.0.0.1:{port}`, which serves every route, HTTPS or not: the
    /// Lambda Runtime API and Invoke API are used this way.
    pub fn plain_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The environment the Lambda binary needs to run against this stand-in
    /// (Runtime API, function identity, fake credentials, EKS endpoint), and with
    /// HTTPS the certificate to trust: `SSL_CERT_FILE` for this function and
    /// OpenSSL's clients, `AWS_CA_BUNDLE` for the AWS CLI and boto3.
    pub fn function_env(&self) -> Vec<(String, String)> {
        let addr = self.addr().to_string();
        let trust = [
            ("SSL_CERT_FILE", TLS_CERTIFICATE_FILE),
            ("AWS_CA_BUNDLE", TLS_CERTIFICATE_FILE),
        ];
        let trust = if self.inner.tls { &trust[..] } else { &[] };
        [
            ("AWS_LAMBDA_RUNTIME_API", addr.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", Self::FUNCTION_NAME),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "/aws/lambda/cfn-eks-pod-identity",
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "local"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDSTANDIN"),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
            ("AWS_SESSION_TOKEN", SESSION_TOKEN),
            ("AWS_ENDPOINT_URL_EKS", &self.url()),
            ("CFN_RESPONSE_ALLOW_LOOPBACK", "true"),
        ]
        .iter()
        .chain(trust)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    // ----- Lambda Runtime API -----

    /// Queues an invocation of [`FUNCTION_ARN`](Self::FUNCTION_ARN) with this
    /// event and time limit; returns its request id.
    pub fn invoke(&self, event: serde_json::Value, timeout: Duration) -> String {
        self.invoke_with(Invocation::new(event, timeout))
    }

    /// Queues an invocation; returns its request id.
    pub fn invoke_with(&self, invocation: Invocation) -> String {
        let request_id = self.shared().ids.uuid();
        self.shared()
            .runtime
            .enqueue(request_id.clone(), invocation);
        request_id
    }

    /// Waits up to `timeout` for the function to answer invocation `request_id`.
    pub async fn wait_for_outcome(&self, request_id: &str, timeout: Duration) -> Option<Outcome> {
        self.shared()
            .runtime
            .wait_for_outcome(request_id, timeout)
            .await
    }

    /// Everything recorded about one invocation, timings included.
    pub fn invocation(&self, request_id: &str) -> Option<InvocationRecord> {
        self.shared().runtime.record(request_id)
    }

    /// All invocations, oldest first.
    pub fn invocations(&self) -> Vec<InvocationRecord> {
        self.shared().runtime.records()
    }

    /// When each `/next` long-poll arrived, oldest first. With one function
    /// process per stand-in, the first is the end of that process's init.
    pub fn polls(&self) -> Vec<std::time::Instant> {
        self.shared().runtime.polls()
    }

    /// How many `/next` long-polls are waiting for an invocation now (a poll whose
    /// client went away stops waiting once the server has noticed).
    pub fn waiting_polls(&self) -> usize {
        self.shared().runtime.waiting_polls()
    }

    /// Reports the function made to `/runtime/init/error`.
    pub fn init_errors(&self) -> Vec<InitError> {
        self.shared().runtime.init_errors()
    }

    // ----- Response bucket -----

    /// A presigned-looking PUT URL for `key` (its `X-Amz-Signature` is [`SIGNATURE`]),
    /// signed now.
    pub fn response_url(&self, key: &str) -> String {
        bucket::presigned_url(&self.bucket_url(), key)
    }

    /// [`Standin::response_url`], signed at `at`: for an event CloudFormation sent then.
    pub fn response_url_signed_at(&self, key: &str, at: std::time::SystemTime) -> String {
        bucket::presigned_url_signed_at(&self.bucket_url(), key, at)
    }

    /// Refuses uploads to `key` with 503 SlowDown until `until`.
    pub fn refuse_uploads_until(&self, key: &str, until: std::time::Instant) {
        self.shared().bucket.refuse_until(key, until);
    }

    /// Uploads the bucket accepted for `key`, oldest first.
    pub fn responses(&self, key: &str) -> Vec<ReceivedPut> {
        self.shared().bucket.responses(key)
    }

    /// Waits until `key` has at least `n` accepted uploads or `timeout`
    /// passes; returns the uploads there are either way.
    pub async fn wait_for_responses(
        &self,
        key: &str,
        n: usize,
        timeout: Duration,
    ) -> Vec<ReceivedPut> {
        self.shared().bucket.wait_for(key, n, timeout).await
    }

    /// Uploads the bucket refused (any key), oldest first.
    pub fn rejected_uploads(&self) -> Vec<RejectedPut> {
        self.shared().bucket.rejected()
    }

    // ----- EKS -----

    /// All associations in all regions, oldest first.
    pub fn associations(&self) -> Vec<Association> {
        lock(&self.shared().eks).associations().to_vec()
    }

    /// Every EKS call received, oldest first.
    pub fn eks_calls(&self) -> Vec<EksCall> {
        lock(&self.shared().eks).calls().to_vec()
    }

    /// Waits until an `operation` call has been answered, at most `timeout`; whether one
    /// was.
    pub async fn wait_for_eks_call(&self, operation: &str, timeout: Duration) -> bool {
        let shared = self.shared();
        wait::until(&shared.eks_answered, Some(timeout), || {
            lock(&shared.eks)
                .calls()
                .iter()
                .any(|call| call.operation == operation && call.status.is_some())
                .then_some(())
        })
        .await
        .is_some()
    }

    /// Forgets the EKS calls received so far (e.g. after a test's setup).
    pub fn clear_eks_calls(&self) {
        lock(&self.shared().eks).clear_calls();
    }

    /// From now on, the cluster `name` does not exist in any region: every
    /// association operation on it gets 404 ResourceNotFoundException.
    pub fn mark_cluster_missing(&self, name: &str) {
        lock(&self.shared().eks).mark_cluster_missing(name);
    }

    /// Undoes [`mark_cluster_missing`](Self::mark_cluster_missing).
    pub fn mark_cluster_present(&self, name: &str) {
        lock(&self.shared().eks).mark_cluster_present(name);
    }

    /// From now on, List filters each page after cutting it from all of a cluster's
    /// associations, pages of at most `size` (see [`EksStore::page_before_filtering`]).
    pub fn page_before_filtering(&self, size: usize) {
        lock(&self.shared().eks).page_before_filtering(size);
    }

    /// From now on, a repeated Create token answers with the association it made even once
    /// that is deleted (see [`EksStore::keep_tokens_of_deleted`]).
    pub fn keep_tokens_of_deleted(&self) {
        lock(&self.shared().eks).keep_tokens_of_deleted();
    }

    /// Places an association directly, as if made outside the function.
    /// Fails with the existing association if its service account already has one.
    pub fn insert_association(
        &self,
        spec: AssociationSpec,
    ) -> Result<Association, Box<Association>> {
        lock(&self.shared().eks).insert(spec, &self.shared().ids)
    }

    /// Makes the association `arn` as old as if it had been created `ago` earlier, for tests
    /// of what goes by an association's age. False if there is no such association.
    pub fn backdate_association(&self, arn: &str, ago: Duration) -> bool {
        lock(&self.shared().eks).backdate(arn, ago.as_secs_f64())
    }

    /// Deletes an association directly, as someone using the AWS CLI would.
    /// Returns it, or `None` when there is no such association.
    pub fn remove_association(&self, association: &Association) -> Option<Association> {
        lock(&self.shared().eks)
            .delete(
                &association.region,
                &association.cluster_name,
                &association.association_id,
            )
            .ok()
    }

    // ----- Faults -----

    /// The next `count` requests matching `target` get `fault`.
    pub fn inject(&self, target: FaultTarget, fault: Fault, count: u32) {
        lock(&self.shared().faults).inject(target, fault, count);
    }

    /// From now on, each request matching `target` gets, with `probability`,
    /// one of `faults` chosen at random.
    pub fn inject_random(&self, target: FaultTarget, probability: f64, faults: Vec<Fault>) {
        lock(&self.shared().faults).inject_random(target, probability, faults);
    }

    /// Removes all fault rules.
    pub fn clear_faults(&self) {
        lock(&self.shared().faults).clear();
    }

    /// The faults applied so far, oldest first.
    pub fn injected_faults(&self) -> Vec<InjectedFault> {
        lock(&self.shared().faults).injected().to_vec()
    }

    /// How many faults were applied so far.
    pub fn injected_fault_count(&self) -> usize {
        lock(&self.shared().faults).injected().len()
    }
}
