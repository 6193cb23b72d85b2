//! Outbound calls to EKS: a thin layer that turns the SDK's types into ours and its errors
//! into an [`EksError`] that says which call failed and why, and what that tells of its
//! effect (whether it changed nothing, whether another try may fare better), for `resource`
//! and `handler` to decide on. No decision is made here.
//!
//! Every request's future is boxed: the SDK's are large, and awaited in place they added 4 to
//! 9 KB to their callers' stack frames, while the stack's deepest point stays resident for the
//! life of the process (`make bench`, peak memory).

use crate::arn::AssociationArn;
use crate::config::Environment;
use crate::http::with_causes;
use crate::plan::{Association, SettingsChange};
use crate::properties::{DesiredAssociation, Placement};
use aws_sdk_eks::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_eks::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_eks::error::ProvideErrorMetadata;
use aws_sdk_eks::types::PodIdentityAssociation;
use aws_sdk_eks::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The most pages [`Eks::list`] reads (of 100 associations each): a bound, so that a
/// service that hands out tokens without end cannot keep a look going until the cut-off.
const MAX_LIST_PAGES: usize = 100;

/// What kind of failure an EKS call had, as far as the decisions care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The association or the cluster does not exist.
    NotFound,
    /// An association for the same cluster, namespace and service account already exists.
    Conflict,
    /// EKS refused the request as invalid, not permitted or over a limit.
    Refused,
    /// No attempt of the call reached EKS: each failed before it had a connection (a host
    /// name that does not resolve, as for a region that does not exist; a refused or
    /// unroutable connection) or before it was sent (no credentials).
    Unreached,
    /// EKS throttled every attempt of the call that reached it (a 429 answer): it was not
    /// carried out, though another try later may be.
    Throttled,
    /// Anything else (server errors, timeouts, the network, throttling after an attempt that
    /// got another answer or none): the call may or may not have taken effect.
    Other,
}

/// A failed EKS call, with the operation and what EKS said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EksError {
    /// The API operation, e.g. `CreatePodIdentityAssociation`.
    pub operation: &'static str,
    /// The error's kind.
    pub kind: ErrorKind,
    /// EKS's error code, e.g. `InvalidParameterException`, when there is one.
    pub code: Option<String>,
    /// The HTTP status of the answer, when one came.
    pub status: Option<u16>,
    /// EKS's message, or the transport error.
    pub message: String,
}

impl fmt::Display for EksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "EKS {} failed: {code}: {}", self.operation, self.message),
            None => write!(f, "EKS {} failed: {}", self.operation, self.message),
        }
    }
}

impl std::error::Error for EksError {}

impl EksError {
    /// EKS rejects a role created moments before, while IAM propagates it, with this
    /// message; it is worth retrying (Terraform retries it for two minutes).
    pub fn is_iam_propagation(&self) -> bool {
        self.code.as_deref() == Some("InvalidParameterException")
            && self
                .message
                .to_ascii_lowercase()
                .contains("role provided in the request does not exist")
    }

    /// The call changed nothing: no attempt of it reached EKS, EKS throttled each one that
    /// did, or EKS refused a request it would refuse every time (invalid, not permitted, no
    /// such cluster), even if the SDK's hidden retries of it had an attempt time out first,
    /// since that attempt was refused too. Every other failure leaves its effect unknown. A
    /// Conflict among them: it is also what a retry would meet if an attempt that timed out
    /// had created the association.
    pub fn changed_nothing(&self) -> bool {
        self.kind == ErrorKind::Throttled || self.would_meet_any_call()
    }

    /// EKS would give every call of the same credentials and region this answer: it refused
    /// the request as not permitted or invalid, or found no cluster, or none of its attempts
    /// reached an endpoint. Not throttling, which passes.
    pub fn would_meet_any_call(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Refused | ErrorKind::NotFound | ErrorKind::Unreached
        )
    }

    /// EKS throttled the call, or failed it with a server error (by its code, or by a 429 or
    /// 5xx status without one, as a front end answers), on every attempt the SDK made.
    /// Another try a little later may succeed, and every call this function makes can be
    /// tried again: the ones that change something carry the event's token, or are
    /// idempotent by nature (a Delete, a tag). The effect of this one is still unknown.
    pub fn is_transient(&self) -> bool {
        let by_code = matches!(
            self.code.as_deref(),
            Some(
                "ThrottlingException"
                    | "TooManyRequestsException"
                    | "Throttling"
                    | "ThrottledException"
                    | "RequestThrottledException"
                    | "RequestLimitExceeded"
                    | "ServerException"
                    | "ServiceUnavailableException"
                    | "InternalFailure"
                    | "InternalError"
            )
        );
        let by_status = self
            .status
            .is_some_and(|status| status == 429 || status >= 500);
        matches!(self.kind, ErrorKind::Other | ErrorKind::Throttled) && (by_code || by_status)
    }

    fn from_sdk<E>(operation: &'static str, error: aws_sdk_eks::error::SdkError<E>) -> EksError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = error.code().map(str::to_owned);
        let status = error.raw_response().map(|answer| answer.status().as_u16());
        let kind = match code.as_deref() {
            Some("ResourceNotFoundException" | "NotFoundException") => ErrorKind::NotFound,
            Some("ResourceInUseException") => ErrorKind::Conflict,
            // The operations' modelled client errors, IAM's refusal, and the refusals of
            // the request's signature or credentials, which the same credentials meet on
            // every attempt (a region not enabled for the account answers
            // UnrecognizedClientException). Not an expired token or request: an earlier
            // attempt may have been in time.
            Some(
                "InvalidParameterException"
                | "InvalidRequestException"
                | "ResourceLimitExceededException"
                | "BadRequestException"
                | "AccessDeniedException"
                | "UnrecognizedClientException"
                | "InvalidClientTokenId"
                | "InvalidSignatureException"
                | "SignatureDoesNotMatch"
                | "IncompleteSignature"
                | "IncompleteSignatureException"
                | "MissingAuthenticationToken"
                | "MissingAuthenticationTokenException"
                | "OptInRequired",
            ) => ErrorKind::Refused,
            _ => ErrorKind::Other,
        };
        // Without EKS's message (no answer came, or one that was not EKS's), the causes: the
        // SDK's `DisplayErrorContext` gives them too, then the whole error's Debug form, which
        // repeats them at several times the length in a Reason CloudFormation shows.
        let message = match (error.message(), status) {
            (Some(message), _) => message.to_owned(),
            (None, Some(status)) => format!("{} (HTTP status {status})", with_causes(&error)),
            (None, None) => with_causes(&error),
        };
        EksError {
            operation,
            kind,
            code,
            status,
            message,
        }
    }
}

/// The SDK's configuration: the environment's (see [`crate::config`]), with the retry
/// policy set deliberately. A custom resource is not latency-sensitive, since CloudFormation
/// waits up to an hour, but it must answer before the Lambda deadline. Five attempts with
/// exponential backoff capped at 10 s ride out throttling and 5xx bursts in well under a
/// minute (longer ones run the event again: `handler`); each attempt may take 20 s, so a
/// hung connection is retried rather than left to the deadline guard. The SDK sends through
/// `http`, the process's one client.
pub fn config(http: reqwest::Client, environment: Environment) -> aws_sdk_eks::Config {
    use aws_sdk_eks::config::retry::{RetryConfig, RetryPartition, TokenBucket};
    use aws_sdk_eks::config::{timeout::TimeoutConfig, BehaviorVersion};
    use std::time::Duration;
    let mut config = aws_sdk_eks::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(crate::http::SdkHttpClient::new(http))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(5)
                .with_initial_backoff(Duration::from_millis(500))
                .with_max_backoff(Duration::from_secs(10)),
        )
        // Without a quota on retries: the SDK's default, 500 tokens per region in a process,
        // 5 spent on each throttled retry and 10 on others, one regained by each call that
        // succeeds at first, is there to stop a long-lived client's retry storms. Here each
        // call's attempts are bounded and an event's reruns paced, and a warm instance that
        // rode out long throttling would otherwise give every later call a single attempt.
        // (One partition for every region: were adaptive retries ever turned on, the regions
        // would share its rate limiter.)
        .retry_partition(
            RetryPartition::custom("cfn-eks-pod-identity")
                .token_bucket(TokenBucket::unlimited())
                .build(),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(crate::http::CONNECT_TIMEOUT)
                .operation_attempt_timeout(Duration::from_secs(20))
                .build(),
        )
        // Both cost every call CPU and guard nothing here: a stalled EKS answer (a small
        // JSON body) is ended by the attempt timeout, and the credentials are a value read
        // once from the environment, which a cache in front of them only copies
        // (`make bench`: warm calls about 5% faster, cold total 1.46 -> 1.42x).
        .stalled_stream_protection(aws_sdk_eks::config::StalledStreamProtectionConfig::disabled())
        .identity_cache(aws_sdk_eks::config::IdentityCache::no_cache())
        .credentials_provider(environment.credentials);
    config
        .set_region(environment.region.map(aws_sdk_eks::config::Region::new))
        .set_endpoint_url(environment.endpoint_url)
        .set_use_fips(environment.use_fips)
        .set_use_dual_stack(environment.use_dual_stack)
        .set_app_name(environment.app_name);
    config.build()
}

/// Watches the attempts of one call (the SDK retries within it) to tell whether any may have
/// been carried out: one that was sent and got an answer, or failed after its connection
/// opened, reached EKS; of those, one answered with a 429 was throttled, not carried out. A
/// call none of whose attempts reached EKS ([`ErrorKind::Unreached`]), or each of whose
/// attempts that did was throttled ([`ErrorKind::Throttled`]), changed nothing.
#[derive(Debug, Clone, Default)]
struct Reach(Arc<Attempts>);

#[derive(Debug, Default)]
struct Attempts {
    sending: AtomicBool,
    reached: AtomicBool,
    /// An attempt reached EKS and was not throttled: no answer, or another answer.
    not_throttled: AtomicBool,
}

impl Reach {
    /// `error`, marked [`ErrorKind::Unreached`] when no attempt reached EKS, or
    /// [`ErrorKind::Throttled`] when each that did was throttled.
    fn judge(&self, mut error: EksError) -> EksError {
        if error.kind == ErrorKind::Other {
            if !self.0.reached.load(Ordering::Relaxed) {
                error.kind = ErrorKind::Unreached;
            } else if !self.0.not_throttled.load(Ordering::Relaxed) {
                error.kind = ErrorKind::Throttled;
            }
        }
        error
    }
}

impl Intercept for Reach {
    fn name(&self) -> &'static str {
        "Reach"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.sending.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let sent = self.0.sending.swap(false, Ordering::Relaxed);
        let never_connected = context.response().is_none()
            && matches!(
                context.output_or_error(),
                Some(Err(error)) if error.as_connector_error().is_some_and(crate::http::never_connected)
            );
        if sent && !never_connected {
            self.0.reached.store(true, Ordering::Relaxed);
            let throttled = context
                .response()
                .is_some_and(|answer| answer.status().as_u16() == 429);
            if !throttled {
                self.0.not_throttled.store(true, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

/// EKS clients, one per region, all built from the configuration loaded once at start-up.
pub struct Eks {
    config: aws_sdk_eks::Config,
    clients: Mutex<HashMap<String, Client>>,
}

impl Eks {
    /// Wraps the shared AWS configuration; clients are made per region on first use.
    pub fn new(config: aws_sdk_eks::Config) -> Eks {
        Eks {
            config,
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn client(&self, region: &str) -> Client {
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = self
                    .config
                    .to_builder()
                    .region(aws_sdk_eks::config::Region::new(region.to_owned()))
                    .build();
                Client::from_conf(config)
            })
            .clone()
    }

    /// CreatePodIdentityAssociation. The same `token` returns the same association, so a
    /// redelivered event creates nothing twice.
    pub async fn create(
        &self,
        desired: &DesiredAssociation,
        tags: BTreeMap<String, String>,
        token: &str,
    ) -> Result<Association, EksError> {
        const OP: &str = "CreatePodIdentityAssociation";
        let p = &desired.placement;
        // Whether it reached EKS decides what a failed Create's Delete must look for.
        let reach = Reach::default();
        let output = Box::pin(
            self.client(&p.region)
                .create_pod_identity_association()
                .cluster_name(&p.cluster)
                .namespace(&p.namespace)
                .service_account(&p.service_account)
                .role_arn(&desired.role_arn)
                .set_target_role_arn(desired.target_role_arn.clone())
                .disable_session_tags(desired.disable_session_tags)
                .set_policy(desired.policy.clone())
                .set_tags(Some(tags.into_iter().collect()))
                .client_request_token(token)
                .customize()
                .interceptor(reach.clone())
                .send(),
        )
        .await
        .map_err(|e| reach.judge(EksError::from_sdk(OP, e)))?;
        from_sdk(OP, &p.region, output.association())
    }

    /// DescribePodIdentityAssociation; `None` when the association or its cluster is gone.
    pub async fn describe(&self, arn: &AssociationArn) -> Result<Option<Association>, EksError> {
        const OP: &str = "DescribePodIdentityAssociation";
        let result = Box::pin(
            self.client(&arn.region)
                .describe_pod_identity_association()
                .cluster_name(&arn.cluster)
                .association_id(&arn.id)
                .send(),
        )
        .await
        .map_err(|e| EksError::from_sdk(OP, e));
        match absent_if_not_found(result)? {
            Some(output) => from_sdk(OP, &arn.region, output.association()).map(Some),
            None => Ok(None),
        }
    }

    /// UpdatePodIdentityAssociation with only the fields that change.
    pub async fn update(
        &self,
        arn: &AssociationArn,
        change: &SettingsChange,
        token: &str,
    ) -> Result<Association, EksError> {
        const OP: &str = "UpdatePodIdentityAssociation";
        let output = Box::pin(
            self.client(&arn.region)
                .update_pod_identity_association()
                .cluster_name(&arn.cluster)
                .association_id(&arn.id)
                .set_role_arn(change.role_arn.clone())
                .set_target_role_arn(change.target_role_arn.clone())
                .set_disable_session_tags(change.disable_session_tags)
                .set_policy(change.policy.clone())
                .client_request_token(token)
                .send(),
        )
        .await
        .map_err(|e| EksError::from_sdk(OP, e))?;
        from_sdk(OP, &arn.region, output.association())
    }

    /// DeletePodIdentityAssociation; `false` when there was nothing to delete.
    pub async fn delete(&self, arn: &AssociationArn) -> Result<bool, EksError> {
        const OP: &str = "DeletePodIdentityAssociation";
        let result = Box::pin(
            self.client(&arn.region)
                .delete_pod_identity_association()
                .cluster_name(&arn.cluster)
                .association_id(&arn.id)
                .send(),
        )
        .await
        .map_err(|e| EksError::from_sdk(OP, e));
        Ok(absent_if_not_found(result)?.is_some())
    }

    /// ListPodIdentityAssociations for one service account: the ARNs found (at most one, as
    /// EKS allows one association per service account), or `None` when the cluster does not
    /// exist.
    ///
    /// Every page is read: EKS does not document whether it filters before it pages, and
    /// where a service filters each page after cutting it (EC2 does), the association can
    /// come on a later page, after empty ones, in a cluster with many associations.
    pub async fn list(
        &self,
        placement: &Placement,
    ) -> Result<Option<Vec<AssociationArn>>, EksError> {
        const OP: &str = "ListPodIdentityAssociations";
        let client = self.client(&placement.region);
        let mut found = Vec::new();
        let mut next_token = None;
        for page in 1..=MAX_LIST_PAGES {
            // Whether it reached EKS tells a Region with no endpoint from an outage (see
            // `resource::remove_after_abandoned_create`).
            let reach = Reach::default();
            let result = Box::pin(
                client
                    .list_pod_identity_associations()
                    .cluster_name(&placement.cluster)
                    .namespace(&placement.namespace)
                    .service_account(&placement.service_account)
                    .max_results(100)
                    .set_next_token(next_token.take())
                    .customize()
                    .interceptor(reach.clone())
                    .send(),
            )
            .await
            .map_err(|e| reach.judge(EksError::from_sdk(OP, e)));
            let Some(listed) = absent_if_not_found(result)? else {
                return Ok(None);
            };
            for summary in listed.associations() {
                let arn = summary.association_arn().unwrap_or_default();
                match AssociationArn::parse(arn) {
                    Some(arn) => found.push(arn),
                    // Passed over, and so never removed: say so, where someone may look.
                    None => tracing::warn!(
                        arn,
                        "EKS listed an association whose ARN this function cannot read; passed over"
                    ),
                }
            }
            match listed.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => break,
            }
            if page == MAX_LIST_PAGES {
                tracing::warn!(
                    pages = page,
                    ?placement,
                    "the list goes on past the pages read; using what they hold"
                );
            }
        }
        Ok(Some(found))
    }

    /// [`Eks::list`], where a cluster that does not exist holds no associations.
    pub async fn find(&self, placement: &Placement) -> Result<Vec<AssociationArn>, EksError> {
        Ok(Box::pin(self.list(placement)).await?.unwrap_or_default())
    }

    /// TagResource: adds or changes these tags.
    pub async fn tag(
        &self,
        arn: &AssociationArn,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), EksError> {
        Box::pin(
            self.client(&arn.region)
                .tag_resource()
                .resource_arn(arn.to_string())
                .set_tags(Some(tags.clone().into_iter().collect()))
                .send(),
        )
        .await
        .map(|_| ())
        .map_err(|e| EksError::from_sdk("TagResource", e))
    }

    /// UntagResource: removes these tag keys.
    pub async fn untag(&self, arn: &AssociationArn, keys: &[String]) -> Result<(), EksError> {
        Box::pin(
            self.client(&arn.region)
                .untag_resource()
                .resource_arn(arn.to_string())
                .set_tag_keys(Some(keys.to_vec()))
                .send(),
        )
        .await
        .map(|_| ())
        .map_err(|e| EksError::from_sdk("UntagResource", e))
    }
}

/// A missing association or cluster is an answer, not an error, for the calls that look.
fn absent_if_not_found<T>(result: Result<T, EksError>) -> Result<Option<T>, EksError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Our view of the SDK's association; a response without one is an error, not a panic.
fn from_sdk(
    operation: &'static str,
    region: &str,
    association: Option<&PodIdentityAssociation>,
) -> Result<Association, EksError> {
    let missing = |field: &str| EksError {
        operation,
        kind: ErrorKind::Other,
        code: None,
        status: None,
        message: format!("the response has no {field}"),
    };
    let a = association.ok_or_else(|| missing("association"))?;
    let text =
        |value: Option<&str>, field: &str| value.map(str::to_owned).ok_or_else(|| missing(field));
    Ok(Association {
        arn: text(a.association_arn(), "associationArn")?,
        id: text(a.association_id(), "associationId")?,
        placement: Placement {
            region: region.to_owned(),
            cluster: text(a.cluster_name(), "clusterName")?,
            namespace: text(a.namespace(), "namespace")?,
            service_account: text(a.service_account(), "serviceAccount")?,
        },
        role_arn: text(a.role_arn(), "roleArn")?,
        target_role_arn: a
            .target_role_arn()
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        disable_session_tags: a.disable_session_tags().unwrap_or(false),
        policy: a.policy().filter(|p| !p.is_empty()).map(str::to_owned),
        external_id: a.external_id().filter(|e| !e.is_empty()).map(str::to_owned),
        tags: a
            .tags()
            .map(|tags| tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        created_at: a
            .created_at()
            .and_then(|t| std::time::SystemTime::try_from(*t).ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttling_and_server_errors_are_worth_another_run() {
        let error = |kind, code: Option<&str>| EksError {
            operation: "CreatePodIdentityAssociation",
            kind,
            code: code.map(str::to_owned),
            status: None,
            message: String::new(),
        };
        for code in [
            "ThrottlingException",
            "TooManyRequestsException",
            "ServerException",
        ] {
            assert!(error(ErrorKind::Other, Some(code)).is_transient(), "{code}");
        }
        // Refusals come again; a network failure or a timeout has had the SDK's attempts of
        // up to 20 s each already.
        assert!(!error(ErrorKind::Refused, Some("AccessDeniedException")).is_transient());
        assert!(!error(ErrorKind::Other, None).is_transient());
        assert!(!error(ErrorKind::Unreached, None).is_transient());
        // A front end's 502, with no code.
        let bad_gateway = EksError {
            status: Some(502),
            ..error(ErrorKind::Other, None)
        };
        assert!(bad_gateway.is_transient());
    }

    /// The kind each error code EKS (or its front end) answers with is given: a refusal
    /// every call of the same credentials meets, as a region the account has not enabled
    /// (UnrecognizedClientException), lets a failed Create say it made nothing, where any
    /// other code leaves its effect unknown.
    #[test]
    fn error_codes_are_read_into_kinds() {
        use aws_sdk_eks::config::http::HttpResponse;
        use aws_sdk_eks::error::{ErrorMetadata, SdkError};
        use aws_sdk_eks::operation::create_pod_identity_association::CreatePodIdentityAssociationError;
        use aws_smithy_types::body::SdkBody;
        let from = |status: u16, code: &str| {
            let metadata = ErrorMetadata::builder().code(code).message("m").build();
            let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(""));
            let error = CreatePodIdentityAssociationError::generic(metadata);
            EksError::from_sdk(OP, SdkError::service_error(error, raw))
        };
        const OP: &str = "CreatePodIdentityAssociation";
        for code in [
            "InvalidParameterException",
            "InvalidRequestException",
            "ResourceLimitExceededException",
            "BadRequestException",
            "AccessDeniedException",
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "InvalidSignatureException",
            "SignatureDoesNotMatch",
            "IncompleteSignature",
            "IncompleteSignatureException",
            "MissingAuthenticationToken",
            "MissingAuthenticationTokenException",
            "OptInRequired",
        ] {
            let error = from(400, code);
            assert_eq!(error.kind, ErrorKind::Refused, "{code}");
            assert!(error.changed_nothing(), "{code}");
            assert_eq!(error.status, Some(400));
        }
        assert_eq!(
            from(404, "ResourceNotFoundException").kind,
            ErrorKind::NotFound
        );
        assert_eq!(
            from(409, "ResourceInUseException").kind,
            ErrorKind::Conflict
        );
        // An expired token or request: an earlier attempt may have been in time.
        for code in ["ExpiredTokenException", "RequestExpired", "ServerException"] {
            let error = from(400, code);
            assert_eq!(error.kind, ErrorKind::Other, "{code}");
            assert!(!error.changed_nothing(), "{code}");
        }
        assert!(from(500, "ServerException").is_transient());
    }

    /// Without a message from EKS, the Reason gets the causes, once each, and the status of
    /// an answer that was not EKS's, not the SDK's Debug form of the same.
    #[test]
    fn an_error_without_a_message_reads_as_its_causes() {
        use aws_sdk_eks::config::http::HttpResponse;
        use aws_sdk_eks::error::{ErrorMetadata, SdkError};
        use aws_sdk_eks::operation::create_pod_identity_association::CreatePodIdentityAssociationError;
        use aws_smithy_runtime_api::client::result::ConnectorError;
        use aws_smithy_types::body::SdkBody;
        const OP: &str = "CreatePodIdentityAssociation";
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let error: SdkError<CreatePodIdentityAssociationError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io(Box::new(reset)));
        let error = EksError::from_sdk(OP, error);
        assert_eq!(error.message, "dispatch failure: io error: reset by peer");
        assert_eq!(error.kind, ErrorKind::Other);

        let raw = HttpResponse::new(502.try_into().unwrap(), SdkBody::from("<html>"));
        let generic = CreatePodIdentityAssociationError::generic(ErrorMetadata::builder().build());
        let error = EksError::from_sdk(OP, SdkError::service_error(generic, raw));
        assert!(
            error.message.ends_with("(HTTP status 502)"),
            "{}",
            error.message
        );
        assert!(!error.message.contains("ServiceError"), "{}", error.message);
        assert!(error.is_transient());
    }

    #[test]
    fn the_environment_reaches_the_sdks_configuration() {
        // Credentials, the endpoint and the flags are proven end to end (tests/lifecycle.rs):
        // the SDK's configuration does not show them.
        let environment = Environment::from_vars(|name| {
            let value = match name {
                "AWS_REGION" => "eu-west-1",
                "AWS_SDK_UA_APP_ID" => "platform-team",
                _ => return None,
            };
            Some(value.to_owned())
        });
        let http = crate::http::client(Default::default()).expect("an HTTP client");
        let config = config(http, environment);
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(
            config.app_name().map(|a| a.to_string()).as_deref(),
            Some("platform-team")
        );
        // The bounds the Delete's looks and the README's retry table count on.
        let timeouts = config.timeout_config().expect("a timeout configuration");
        assert_eq!(
            timeouts.operation_attempt_timeout(),
            Some(std::time::Duration::from_secs(20))
        );
        assert_eq!(
            timeouts.connect_timeout(),
            Some(crate::http::CONNECT_TIMEOUT)
        );
        let retries = config.retry_config().expect("a retry configuration");
        assert_eq!(retries.max_attempts(), 5);
        assert_eq!(retries.max_backoff(), std::time::Duration::from_secs(10));
    }
}
