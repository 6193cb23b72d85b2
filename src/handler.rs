//! The framework around the resource: one event in, exactly one answer out.
//!
//! Whatever happens while handling an event (bad input, an EKS error, a panic, EKS hanging
//! until the Lambda deadline), the outcome becomes a SUCCESS or FAILED answer with a non-empty
//! PhysicalResourceId, delivered before the deadline: PUT to the ResponseURL in direct mode,
//! returned as the invocation's result behind the CDK provider framework.

use crate::arn::{is_sns_topic, lambda_function_name, Home};
use crate::backoff::Backoff;
use crate::deadline::{deadline_for, may_run_again, supervise, undo_deadline, Limit};
use crate::delivery::{deliver, ResponseUrl};
use crate::dns::Resolver;
use crate::eks::Eks;
use crate::event::{Incoming, Request, RequestType};
use crate::late::{self, Late, Signed};
use crate::plan::Owner;
use crate::progress::Progress;
use crate::resource::{self, Context, Failure, Rerun, Success};
use crate::response::{data, provider_reason, Response, Status};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;
use tracing::{error, info, info_span, warn, Instrument};

/// How the answer is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// PUT the response to the ResponseURL (CloudFormation invoked us, directly or via SNS).
    Direct,
    /// Return the result; the CDK provider framework that invoked us sends the response.
    Provider,
}

/// Settings read once at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// This function's name, to recognise a ServiceToken that points at us.
    pub function_name: String,
    /// `Some` when `CFN_RESPONSE_MODE` forces a mode.
    pub forced_mode: Option<Mode>,
    /// `CFN_RESPONSE_ALLOW_LOOPBACK=true`: allow a ResponseURL on 127.0.0.1 (local runs only).
    pub allow_loopback: bool,
    /// The region for associations whose template names none.
    pub default_region: String,
}

/// The clients and settings every event shares; built once in `main`.
pub struct Handler {
    eks: Eks,
    http: reqwest::Client,
    resolver: Arc<Resolver>,
    settings: Settings,
}

/// Direct mode: the ServiceToken is absent, an SNS topic, or names this function (any
/// version or alias). Provider mode: it names another Lambda function (the CDK framework's).
pub fn mode(request: &Request, settings: &Settings) -> Mode {
    if let Some(forced) = settings.forced_mode {
        return forced;
    }
    match request.service_token.as_deref() {
        None | Some("") => Mode::Direct,
        Some(token) if is_sns_topic(token) => Mode::Direct,
        Some(token) => match lambda_function_name(token) {
            Some(name) if name != settings.function_name => Mode::Provider,
            _ => Mode::Direct,
        },
    }
}

/// The idempotency token for EKS: the same for every delivery of the same event, different
/// for different events. Two FNV-1a hashes, shaped like a UUID.
pub fn request_token(request: &Request) -> String {
    let parts = [
        request.stack_id.as_deref().unwrap_or(""),
        request.logical_resource_id.as_deref().unwrap_or(""),
        request.request_id.as_deref().unwrap_or(""),
    ];
    let hash = |seed: u64| {
        parts.iter().fold(seed, |mut h, part| {
            for byte in part.bytes().chain([0]) {
                h ^= u64::from(byte);
                h = h.wrapping_mul(0x100_0000_01b3);
            }
            h
        })
    };
    let hex = format!(
        "{:016x}{:016x}",
        hash(0xcbf2_9ce4_8422_2325),
        hash(0x6c62_272e_07bb_0142)
    );
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl Handler {
    /// Puts the pieces together.
    pub fn new(
        eks: Eks,
        http: reqwest::Client,
        resolver: Arc<Resolver>,
        settings: Settings,
    ) -> Handler {
        Handler {
            eks,
            http,
            resolver,
            settings,
        }
    }

    /// Handles one invocation: decides, acts, answers. Returns `Ok` only once the answer is
    /// delivered (direct mode) or is the result (provider mode), so that Lambda's own retry
    /// gets another chance otherwise; but for an event that came after CloudFormation stopped
    /// waiting for it ([`late`]), which a retry would only make later. `invoked_function_arn`
    /// (from Lambda's context) names the account, whose clusters the function manages.
    pub async fn handle(
        self: Arc<Self>,
        incoming: Incoming,
        deadline: SystemTime,
        invoked_function_arn: &str,
    ) -> Result<Value, lambda_runtime::Error> {
        let home = Home::of(invoked_function_arn);
        let request = Request::from_incoming(incoming);
        let mode = mode(&request, &self.settings);
        let span = info_span!(
            "event",
            request_id = request.request_id.as_deref().unwrap_or(""),
            logical_resource_id = request.logical_resource_id.as_deref().unwrap_or(""),
            request_type = ?request.request_type,
        );
        async move {
            let lambda_deadline = Instant::now()
                + deadline
                    .duration_since(SystemTime::now())
                    .unwrap_or_default();
            info!(
                ?mode,
                physical_resource_id = request.physical_resource_id.as_deref().unwrap_or(""),
                "received"
            );
            // An answer that cannot be delivered makes acting pointless: change nothing.
            let url = match mode {
                Mode::Direct => Some(self.response_url(&request)?),
                Mode::Provider => None,
            };
            // Looked up while the EKS calls run, rather than after them.
            if let Some(url) = &url {
                self.resolver.look_up_ahead(url.host());
            }
            let signed = self.signed(&request, url.as_ref());
            let service_timeout = request.service_timeout;
            if let Some(late) = late::stopped_waiting(signed, service_timeout, SystemTime::now()) {
                return self.answer_late(&request, url, late, lambda_deadline).await;
            }
            let waits_until = late::waits_until(signed, service_timeout);
            let (deadline, limit) =
                deadline_for(request.service_timeout, waits_until, lambda_deadline);
            // Behind the provider framework too, by the same signature, though the framework
            // invokes the function again at once when its call of it fails in any way, so two
            // runs of one event may overlap. Taking neither for the first would make the one
            // that fails remove what the other reported (README, Provider mode).
            let first_run = late::first_run(signed, SystemTime::now());
            let progress = if first_run {
                Progress::first_run()
            } else {
                Progress::default()
            };
            let rerun = Rerun {
                event_sent: signed.at.filter(|_| !first_run),
                // The function's time limit, which an earlier run had too.
                time_limit: lambda_deadline.saturating_duration_since(Instant::now()),
            };
            // Boxed where it is made: the operation's future is about 19 KB, and moving it
            // by value into its task made this block's stack frame 44 KB rather than 21
            // (`make bench`).
            let work = {
                let (handler, request, progress) =
                    (self.clone(), request.clone(), progress.clone());
                |cut_off| {
                    Box::pin(async move {
                        handler
                            .run_operation(&request, progress, cut_off, home, rerun)
                            .await
                    })
                }
            };
            let outcome = match supervise(work, deadline, limit).await {
                Err(failure) if must_undo(mode, &request.request_type, &progress) => Err(self
                    .undo(&request, &progress, failure, deadline, limit)
                    .await),
                outcome => outcome,
            };
            let response = decide(&request, outcome, &progress);
            match url {
                None => provider_result(&request, response),
                // Until the Lambda deadline even after the ServiceTimeout: an answer that
                // comes late is ignored, but one never delivered makes Lambda run the event
                // again, Create and all.
                Some(url) => self.deliver(&url, response, lambda_deadline).await,
            }
        }
        .instrument(span)
        .await
    }

    fn response_url(&self, request: &Request) -> Result<ResponseUrl, lambda_runtime::Error> {
        let Some(url) = request.response_url.as_deref() else {
            error!("the event has no ResponseURL: no response can be sent, nothing was changed");
            return Err("the event has no ResponseURL".into());
        };
        ResponseUrl::parse(url, self.settings.allow_loopback).map_err(|refused| {
            error!(%refused, "no response can be sent, nothing was changed");
            refused.into()
        })
    }

    /// Answers an event that came after CloudFormation stopped waiting for it: FAILED, having
    /// changed nothing. Delivered or not, the invocation succeeds, since Lambda's retry of the
    /// event would come later still; an expired URL is not tried at all.
    async fn answer_late(
        &self,
        request: &Request,
        url: Option<ResponseUrl>,
        late: Late,
        lambda_deadline: Instant,
    ) -> Result<Value, lambda_runtime::Error> {
        error!(%late, "came after CloudFormation stopped waiting for it");
        let expired = matches!(late, Late::UrlExpired { .. });
        let response = decide(
            request,
            Err(Failure::new(late.to_string())),
            &Progress::default(),
        );
        match url {
            None => provider_result(request, response),
            Some(url) => {
                let result = json!({"Status": response.status, "PhysicalResourceId": response.physical_resource_id});
                if !expired {
                    let _ = self.deliver(&url, response, lambda_deadline).await;
                }
                Ok(result)
            }
        }
    }

    /// What the ResponseURL of `request` (`url` in direct mode) says of when CloudFormation
    /// signed it. Behind the CDK provider framework, the event carries CloudFormation's URL
    /// too, for reading only.
    fn signed(&self, request: &Request, url: Option<&ResponseUrl>) -> Signed {
        match url {
            Some(url) => url.signed(),
            None => request
                .response_url
                .as_deref()
                .and_then(|text| ResponseUrl::parse(text, true).ok())
                .map(|url| url.signed())
                .unwrap_or_default(),
        }
    }

    /// The resource operation for this event, with the shared clients lent to it.
    async fn run_operation(
        &self,
        request: &Request,
        progress: Progress,
        cut_off: Instant,
        home: Option<Home>,
        rerun: Rerun,
    ) -> Result<Success, Failure> {
        let ctx = Context {
            eks: &self.eks,
            default_region: &self.settings.default_region,
            owner: Owner {
                stack_id: request.stack_id.clone().unwrap_or_default(),
                logical_id: request.logical_resource_id.clone().unwrap_or_default(),
            },
            token: request_token(request),
            progress,
            cut_off,
            home,
            rerun,
        };
        // EKS throttles an account's calls together, so a stack that creates or deletes many
        // associations at once can be throttled for longer than the SDK's five attempts
        // (about 8 s) ride out, and a Delete that gives up leaves the stack's delete or
        // rollback stuck. So such an event runs again from the start, as a redelivery of it
        // would (every operation is made for that: the same token, idempotent deletes and
        // tags), while `may_run_again` says there is time for it.
        //
        // Not a replacement that found its new service account free, though: CloudFormation
        // may cancel the update meanwhile (another resource failed), and its rollback looks
        // for what the replacement made only once, at once (`resource::update`). A later
        // run's Create could land after that look, and be left behind; failing instead, the
        // replacement's undo removes what it may have made, and the stack rolls back cleanly.
        let started = Instant::now();
        let mut backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(20));
        loop {
            match operate(&ctx, request).await {
                Err(failure) if failure.transient && !ctx.progress.placement_was_free() => {
                    let pause = backoff.next_pause();
                    if !may_run_again(started, Instant::now() + pause, cut_off) {
                        return Err(failure);
                    }
                    warn!(
                        ?pause,
                        reason = %failure.reason,
                        "EKS throttled or failed a call after the SDK's retries; running the event again"
                    );
                    tokio::time::sleep(pause).await;
                }
                outcome => return outcome,
            }
        }
    }

    /// Removes what a failed event may have made (see [`must_undo`]), as a Delete of it
    /// would, and says in the Reason whether it could.
    async fn undo(
        self: &Arc<Self>,
        request: &Request,
        progress: &Progress,
        failure: Failure,
        deadline: Instant,
        limit: Limit,
    ) -> Failure {
        let mut delete = request.clone();
        delete.request_type = RequestType::Delete;
        // Without an ARN, no id: such a Delete looks at the service account once, where a
        // placeholder's would look again for as long as it could. CloudFormation waits for
        // the Deletes it sends, so nothing else happens to the resource while one looks;
        // nothing waits for this one. CloudFormation may have given up on this event and
        // rolled back already, and a later deployment have made an association there with
        // the same tags, which a longer look could remove.
        delete.physical_resource_id = progress.created_arn();
        info!(
            physical_resource_id = delete.physical_resource_id.as_deref().unwrap_or(""),
            "removing what the failed event may have made"
        );
        let work = {
            let handler = Arc::clone(self);
            |cut_off| {
                Box::pin(async move {
                    handler
                        .run_operation(
                            &delete,
                            Progress::default(),
                            cut_off,
                            None,
                            Rerun::default(),
                        )
                        .await
                })
            }
        };
        let reason = match supervise(work, undo_deadline(Instant::now(), deadline), limit).await {
            // A request cut off by the deadline may still reach EKS after the look-up.
            Ok(_) => format!(
                "{} It was cleaned up: no association it made was found on EKS, or the one \
                 found was deleted. (If a request of it was cut off on its way, check that \
                 none appears later.)",
                failure.reason
            ),
            Err(cleanup) => {
                error!(reason = %cleanup.reason, "could not remove what the failed event may have made");
                format!(
                    "{} Removing what it may have made failed too ({}): an association tagged with \
                     this stack and logical id may be left on EKS.",
                    failure.reason, cleanup.reason
                )
            }
        };
        Failure::new(reason)
    }

    async fn deliver(
        &self,
        url: &ResponseUrl,
        response: Response,
        deadline: Instant,
    ) -> Result<Value, lambda_runtime::Error> {
        let deliver_by = deadline.checked_sub(FOR_THE_RUNTIME).unwrap_or(deadline);
        match deliver(&self.http, url, response.body(), deliver_by).await {
            Ok(attempts) => {
                info!(attempts, url = %url, "response delivered");
                Ok(
                    json!({"Status": response.status, "PhysicalResourceId": response.physical_resource_id}),
                )
            }
            Err(failed) => {
                error!(%failed, url = %url, "response not delivered");
                Err(failed.into())
            }
        }
    }
}

/// Time left to the runtime after the last attempt to deliver the answer, to report the
/// invocation's own result: a local call, but one a busy host can hold up for tens of
/// milliseconds.
const FOR_THE_RUNTIME: Duration = Duration::from_millis(200);
// Less than the least reserve, so that a PUT after the guard still has time.
const _: () = assert!(FOR_THE_RUNTIME.as_nanos() < crate::deadline::LEAST_RESERVE.as_nanos());

/// Whether a failed event must remove what it may have made before it answers, because
/// nothing CloudFormation sends next will. Behind the CDK provider framework a failed Create
/// gets no Delete of ours: the framework answers it by itself. And in either mode, the
/// rollback of a failed Update returns to the old association and never sees the new one a
/// replacement's Create may have made.
fn must_undo(mode: Mode, request_type: &RequestType, progress: &Progress) -> bool {
    match request_type {
        RequestType::Create => mode == Mode::Provider && progress.may_have_created(),
        RequestType::Update => progress.may_have_replaced(),
        _ => false,
    }
}

/// The response for an outcome. A failed Create reports the association it created, so the
/// stack's Delete removes it, or that it made nothing, so the Delete does nothing; when a cut
/// off Create leaves that unknown, a placeholder makes the Delete look. Any other failure
/// keeps the id CloudFormation already has. The id is never empty.
pub fn decide(
    request: &Request,
    outcome: Result<Success, Failure>,
    progress: &Progress,
) -> Response {
    let (status, reason, physical_id, association) = match outcome {
        Ok(success) => (
            Status::Success,
            None,
            Some(success.physical_id),
            success.association,
        ),
        Err(failure) => {
            let id = match request.request_type {
                RequestType::Create if !progress.may_have_created() => {
                    Some(resource::nothing_created_id(&request_token(request)))
                }
                RequestType::Create => progress.created_arn(),
                _ => request.physical_resource_id.clone(),
            };
            (Status::Failed, Some(failure.reason), id, None)
        }
    };
    let physical_id = physical_id
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| placeholder_id(request));
    info!(?status, reason = reason.as_deref().unwrap_or(""), physical_resource_id = %physical_id, "decided");
    Response::new(
        request,
        status,
        reason,
        physical_id,
        data(association.as_ref()),
    )
}

/// The id of a failed event that has none better (see [`resource::placeholder_id`]).
fn placeholder_id(request: &Request) -> String {
    resource::placeholder_id(&request_token(request))
}

/// Behind the CDK provider framework the result is the return value, and a failure is an
/// error whose message the framework makes the Reason (shortened, since the framework adds
/// to it and shortens nothing). The framework fails a Delete whose result names an id other
/// than the event's, so a Delete's result names the event's own, or none when it had none.
fn provider_result(request: &Request, response: Response) -> Result<Value, lambda_runtime::Error> {
    if let Some(reason) = response.reason {
        return Err(provider_reason(&reason).into());
    }
    let physical_id = match request.request_type {
        RequestType::Delete => request.physical_resource_id.clone(),
        _ => Some(response.physical_resource_id),
    };
    Ok(match physical_id {
        Some(id) => json!({"PhysicalResourceId": id, "Data": response.data}),
        None => json!({"Data": response.data}),
    })
}

/// Dispatches on the request type; events that cannot be read are never acted on.
async fn operate(ctx: &Context<'_>, request: &Request) -> Result<Success, Failure> {
    if let Some(error) = &request.malformed {
        return Err(Failure::new(format!(
            "The event could not be read ({error}); nothing was changed."
        )));
    }
    // Real events always carry these; without them this stack resource's associations could
    // not be told from others (the ownership tags) nor its deliveries from other events (the
    // token), so a hand-made event without them changes nothing.
    let missing: Vec<&str> = [
        ("StackId", &request.stack_id),
        ("RequestId", &request.request_id),
        ("LogicalResourceId", &request.logical_resource_id),
    ]
    .into_iter()
    .filter(|(_, value)| value.as_deref().is_none_or(str::is_empty))
    .map(|(name, _)| name)
    .collect();
    if !missing.is_empty() {
        return Err(Failure::new(format!(
            "The event has no {}, which CloudFormation always sends; nothing was changed.",
            missing.join(", ")
        )));
    }
    match &request.request_type {
        RequestType::Create => resource::create(ctx, request).await,
        RequestType::Update => resource::update(ctx, request).await,
        RequestType::Delete => resource::delete(ctx, request).await,
        RequestType::Unknown(other) if other.is_empty() => Err(Failure::new(
            "The event has no RequestType; expected Create, Update or Delete. Nothing was changed.",
        )),
        RequestType::Unknown(other) => Err(Failure::new(format!(
            "Unknown RequestType {other:?}; expected Create, Update or Delete. Nothing was changed."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(token: Option<&str>) -> Request {
        let mut event = json!({"RequestType": "Create", "RequestId": "r", "StackId": "s", "LogicalResourceId": "l"});
        if let Some(token) = token {
            event["ServiceToken"] = json!(token);
        }
        Request::from_incoming(Incoming::Json(event))
    }

    fn settings(forced_mode: Option<Mode>) -> Settings {
        Settings {
            function_name: "cfn-eks-pod-identity".into(),
            forced_mode,
            allow_loopback: false,
            default_region: "us-east-1".into(),
        }
    }

    #[test]
    fn direct_unless_another_function_is_the_service_token() {
        let ours = "arn:aws:lambda:us-east-1:111122223333:function:cfn-eks-pod-identity";
        let framework =
            "arn:aws:lambda:us-east-1:111122223333:function:Stack-ProviderframeworkonEvent-1";
        assert_eq!(mode(&request(None), &settings(None)), Mode::Direct);
        assert_eq!(mode(&request(Some(ours)), &settings(None)), Mode::Direct);
        assert_eq!(
            mode(&request(Some(&format!("{ours}:live"))), &settings(None)),
            Mode::Direct
        );
        assert_eq!(
            mode(
                &request(Some("arn:aws:sns:us-east-1:111122223333:t")),
                &settings(None)
            ),
            Mode::Direct
        );
        assert_eq!(
            mode(&request(Some(framework)), &settings(None)),
            Mode::Provider
        );
        assert_eq!(
            mode(&request(Some(framework)), &settings(Some(Mode::Direct))),
            Mode::Direct
        );
        assert_eq!(
            mode(&request(None), &settings(Some(Mode::Provider))),
            Mode::Provider
        );
    }

    #[test]
    fn tokens_are_stable_per_event_and_differ_between_events() {
        let a = request_token(&request(None));
        assert_eq!(a, request_token(&request(None)));
        assert_eq!(a.len(), 36);
        let mut other = request(None);
        other.request_id = Some("r2".into());
        assert_ne!(a, request_token(&other));
        // Field boundaries count: ("ab", "c") is not ("a", "bc").
        let mut shifted = request(None);
        shifted.stack_id = Some("sl".into());
        shifted.logical_resource_id = Some(String::new());
        assert_ne!(a, request_token(&shifted));
    }

    #[test]
    fn the_provider_framework_gets_a_delete_its_own_id_and_a_reason_it_can_send() {
        let mut delete = request(None);
        delete.request_type = RequestType::Delete;
        // An event without a PhysicalResourceId: the answer's is one made up for it.
        let answer = decide(
            &delete,
            Ok(Success {
                physical_id: String::new(),
                association: None,
            }),
            &Progress::default(),
        );
        assert!(!answer.physical_resource_id.is_empty());
        let result = provider_result(&delete, answer.clone()).unwrap();
        assert_eq!(result.get("PhysicalResourceId"), None, "{result}");
        delete.physical_resource_id = Some("Stack-PodIdentity-1A2B".into());
        let result = provider_result(&delete, answer).unwrap();
        assert_eq!(result["PhysicalResourceId"], "Stack-PodIdentity-1A2B");

        let create = request(None);
        let failure = Failure::new(format!("InvalidParameterException: {}", "é".repeat(5_000)));
        let answer = decide(&create, Err(failure), &Progress::default());
        let message = provider_result(&create, answer).unwrap_err().to_string();
        assert!(
            message.starts_with("InvalidParameterException: é"),
            "{message}"
        );
        assert!(message.len() <= crate::response::MAX_PROVIDER_REASON);
    }

    #[test]
    fn a_failed_create_reports_what_it_created() {
        let request = request(None);
        let progress = Progress::first_run();
        let failure = || Err(Failure::new("r"));
        let id = |progress: &Progress| decide(&request, failure(), progress).physical_resource_id;
        // Nothing sent, or every Create refused: the marker that tells Delete to do nothing.
        let nothing = format!(
            "cfn-eks-pod-identity-nothing-created-{}",
            request_token(&request)
        );
        let placeholder = format!("cfn-eks-pod-identity-{}", request_token(&request));
        assert_eq!(id(&progress), nothing);
        progress.sending();
        progress.made_nothing();
        assert_eq!(id(&progress), nothing);
        // The same in a later run (Lambda's retry of an event whose answer was lost): the
        // first run may have made the association, so Delete must look.
        let later = Progress::default();
        later.sending();
        later.made_nothing();
        assert_eq!(id(&later), placeholder);
        // A Create cut off while EKS had it: a placeholder, which Delete looks up.
        progress.sending();
        assert_eq!(id(&progress), placeholder);
        progress.created("arn:created");
        assert_eq!(
            decide(&request, failure(), &progress).physical_resource_id,
            "arn:created"
        );
        let mut update = request.clone();
        update.request_type = RequestType::Update;
        update.physical_resource_id = Some("arn:old".into());
        assert_eq!(
            decide(&update, failure(), &progress).physical_resource_id,
            "arn:old"
        );
    }

    #[test]
    fn only_what_no_later_event_removes_is_undone_at_once() {
        let undo = |mode, kind: RequestType, progress: &Progress| must_undo(mode, &kind, progress);
        let sent = Progress::default();
        sent.sending();
        // A failed Create's own Delete follows in direct mode; behind the framework it does not.
        assert!(!undo(Mode::Direct, RequestType::Create, &sent));
        assert!(undo(Mode::Provider, RequestType::Create, &sent));
        assert!(!undo(
            Mode::Provider,
            RequestType::Create,
            &Progress::default()
        ));
        // A replacement's Create at a service account this event found free: in both modes.
        let replaced = Progress::first_run();
        replaced.found_placement_free();
        assert!(
            !undo(Mode::Direct, RequestType::Update, &replaced),
            "nothing sent yet"
        );
        replaced.sending();
        assert!(undo(Mode::Direct, RequestType::Update, &replaced));
        assert!(undo(Mode::Provider, RequestType::Update, &replaced));
        replaced.made_nothing();
        assert!(
            !undo(Mode::Direct, RequestType::Update, &replaced),
            "EKS refused it"
        );
        // One found there already, which a rollback returns to, is never removed.
        let adopted = Progress::default();
        adopted.created("arn:owned-before");
        assert!(!undo(Mode::Direct, RequestType::Update, &adopted));
        assert!(!undo(Mode::Provider, RequestType::Delete, &sent));
    }
}
