//! The failures real AWS produces, injected by the stand-in: the outcome under each, not just
//! the absence of a crash.

mod common;

use cfn_eks_pod_identity::arn::AssociationArn;
use cfn_eks_pod_identity::config::Environment;
use cfn_eks_pod_identity::eks::{self, Eks};
use common::{assert_failed, properties, properties_with, throttled, Harness};
use serde_json::{json, Value};
use standin::{Fault, FaultTarget, Outcome, Standin};
use std::collections::HashMap;
use std::time::Duration;

const CREATE: &str = "CreatePodIdentityAssociation";
/// How EKS refuses a role IAM has not propagated yet (or one that does not exist).
const ROLE_NOT_FOUND: &str = "Role provided in the request does not exist";

/// EKS's refusal of a role IAM has not propagated yet, which the function retries.
fn role_not_found() -> Fault {
    Fault::status(400, "InvalidParameterException", ROLE_NOT_FOUND)
}

#[tokio::test]
async fn throttling_5xx_and_resets_are_retried() {
    let h = Harness::start().await;
    for fault in [
        throttled(),
        Fault::status(500, "ServerException", "Internal failure"),
        Fault::status(503, "ServiceUnavailableException", "Service unavailable"),
        Fault::Reset,
    ] {
        h.standin.clear_eks_calls();
        h.standin.inject(FaultTarget::eks(CREATE), fault.clone(), 2);
        let service_account = format!("sa-{}", h.standin.associations().len());
        let response = h
            .send(&h.event(
                "Create",
                properties_with(json!({"ServiceAccount": service_account})),
                None,
            ))
            .await;
        assert_eq!(response["Status"], "SUCCESS", "{fault:?}: {response}");
        let creates = h.eks_operations().iter().filter(|op| *op == CREATE).count();
        assert_eq!(creates, 3, "{fault:?}: two faults, then success");
    }
    assert_eq!(
        h.standin.associations().len(),
        4,
        "retries create nothing twice"
    );
}

#[tokio::test]
async fn persistent_throttling_fails_with_the_eks_error_in_time() {
    let h = Harness::start().await;
    h.standin.inject(FaultTarget::any_eks(), throttled(), 1000);
    let response = h.send(&h.event("Create", properties(), None)).await;
    assert_failed(&response, &["ThrottlingException", CREATE]);
    assert!(h.ended_before_the_deadline(), "{}", h.logs());
    let creates = h.eks_operations().iter().filter(|op| *op == CREATE).count();
    assert!(
        creates > 5 && creates % 5 == 0,
        "runs of the SDK's 5 attempts, and more than one while time was left: {creates}"
    );
    // With no room for a second run, the SDK's five attempts are all. (12 s: a cut-off 9.6 s
    // in, under the 10 s a second run needs, and 2 s past the longest the SDK's pauses take,
    // 7.5 s, for the function's own start and calls.)
    h.standin.clear_eks_calls();
    let quick = h.event(
        "Create",
        properties_with(json!({"ServiceAccount": "quick"})),
        None,
    );
    let response = h.send_within(&quick, Duration::from_secs(12)).await;
    assert_failed(&response, &["ThrottlingException", CREATE]);
    let creates = h.eks_operations().iter().filter(|op| *op == CREATE).count();
    assert_eq!(creates, 5, "the SDK's retry policy: 5 attempts");
    // EKS carried out none of them (each was answered 429): the Delete of the rollback that
    // follows needs no look, which would be throttled too, and could leave it stuck.
    let id = response["PhysicalResourceId"].as_str().unwrap();
    assert!(id.contains("nothing-created"), "{response}");
    h.standin.clear_eks_calls();
    let delete = h.send(&h.event("Delete", properties(), Some(id))).await;
    assert_eq!(delete["Status"], "SUCCESS", "{delete}");
    assert!(h.eks_operations().is_empty(), "no EKS call");
}

/// Lambda runs an event again, a minute or more later, when its answer was not delivered. A
/// Create that then makes nothing, because EKS throttles or refuses it, cannot tell whether
/// the earlier run made the association (a failed Create does not return what its token
/// made, as one that gets through does), so it answers the placeholder, and the Delete that
/// follows finds and removes it.
#[tokio::test]
async fn a_create_run_again_after_a_minute_that_makes_nothing_leaves_its_delete_to_look() {
    let refused = Fault::status(403, "AccessDeniedException", "not now");
    for (fault, reason) in [
        (throttled(), "ThrottlingException"),
        (refused, "AccessDeniedException"),
    ] {
        let h = Harness::start().await;
        let create = h.event("Create", properties(), None);
        // The first run made the association, and its answer was lost.
        assert_eq!(h.send(&create).await["Status"], "SUCCESS");
        assert_eq!(h.standin.associations().len(), 1);
        // Lambda runs it again; EKS now fails every Create. (12 s: time for the SDK's five
        // throttled attempts, up to 7.5 s of pauses, and too little for a second run.)
        let again = h.sent_ago(create, Duration::from_secs(90));
        h.standin.inject(FaultTarget::eks(CREATE), fault, 1000);
        let outcome = h.invoke(&again, Duration::from_secs(12)).await;
        assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
        let responses = h.responses(&again);
        assert_eq!(responses.len(), 2, "one answer from each run");
        let response = &responses[1];
        assert_failed(response, &[reason]);
        let id = response["PhysicalResourceId"].as_str().unwrap().to_owned();
        assert!(!id.contains("nothing-created"), "{response}");
        // The rollback's Delete looks, and removes what the first run made.
        let delete = h.event("Delete", properties(), Some(&id));
        let deleted = h.send_within(&delete, Duration::from_secs(8)).await;
        assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
        assert!(h.standin.associations().is_empty(), "{}", h.logs());
    }
}

/// A stack that creates or deletes many associations at once can be throttled for longer
/// than the SDK's five attempts; a Delete that gave up would leave its rollback stuck.
#[tokio::test]
async fn throttling_and_server_errors_past_the_sdks_attempts_are_ridden_out() {
    let h = Harness::start().await;
    h.standin.inject(FaultTarget::eks(CREATE), throttled(), 7);
    let response = h.send(&h.event("Create", properties(), None)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}\n{}", h.logs());
    let creates = h.eks_operations().iter().filter(|op| *op == CREATE).count();
    assert_eq!(
        creates, 8,
        "five throttled, a pause, two more, then success"
    );
    let arn = response["PhysicalResourceId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        h.association_arns(),
        std::slice::from_ref(&arn),
        "created once"
    );

    // A front end's 502: no error code, not JSON.
    const DELETE: &str = "DeletePodIdentityAssociation";
    let bad_gateway = Fault::status(502, "", "<html><body>502 Bad Gateway</body></html>");
    h.standin.inject(FaultTarget::eks(DELETE), bad_gateway, 7);
    let response = h.send(&h.event("Delete", properties(), Some(&arn))).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}\n{}", h.logs());
    assert!(h.association_arns().is_empty(), "deleted");
}

/// The SDK keeps a retry quota per region in a process: 500 tokens, 5 spent on each
/// throttled retry, one regained by each call that succeeds at once. A warm instance that rode out a long
/// throttling, its reruns included, would give every later call a single attempt. The
/// function's calls keep all their attempts whatever came before. (In process, with the
/// function's EKS configuration and its backoff shortened: 150 attempts in moments.)
#[tokio::test]
async fn throttling_never_uses_up_the_retries_of_later_calls() {
    let standin = Standin::start().await.expect("start the stand-in");
    let env: HashMap<String, String> = standin.function_env().into_iter().collect();
    let environment = Environment::from_vars(|name| env.get(name).cloned());
    let http = cfn_eks_pod_identity::http::client_trusting(None, Default::default())
        .expect("an HTTP client");
    let quick = eks::config(http, environment)
        .to_builder()
        .retry_config(
            aws_sdk_eks::config::retry::RetryConfig::standard()
                .with_max_attempts(5)
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(1)),
        )
        .build();
    let eks = Eks::new(quick);
    standin.inject(FaultTarget::any_eks(), throttled(), 10_000);
    let arn = "arn:aws:eks:us-east-1:111122223333:podidentityassociation/demo/a-0123456789abcdefg";
    let arn = AssociationArn::parse(arn).expect("an association ARN");
    for call in 1..=30 {
        standin.clear_eks_calls();
        let error = eks.describe(&arn).await.expect_err("throttled");
        assert!(error.is_transient(), "{error}");
        assert_eq!(standin.eks_calls().len(), 5, "call {call}: every attempt");
    }
}

/// Throttled to the end, a replacement fails after one run, in time, with the old id. EKS
/// carried out none of its Creates (each was answered 429), so there is nothing to undo, and
/// no look for it: CloudFormation may already have rolled back, and a later deployment have
/// made an association there with the same tags.
#[tokio::test]
async fn a_throttled_replacement_fails_after_one_run_with_nothing_to_undo() {
    let h = Harness::start().await;
    let old = properties();
    let arn = h.create(old.clone()).await;
    h.standin.clear_eks_calls();
    h.standin
        .inject(FaultTarget::eks(CREATE), throttled(), 1000);
    let moved = properties_with(json!({"ServiceAccount": "moved"}));
    let response = h.send(&h.update(&arn, old, moved)).await;
    assert_failed(&response, &["ThrottlingException"]);
    assert_eq!(response["PhysicalResourceId"], arn.as_str());
    assert!(h.ended_before_the_deadline(), "{}", h.logs());
    // The SDK's five attempts, and no second run, whose Create could outlast the rollback's
    // look for it (tests/ownership.rs).
    let operations = h.eks_operations();
    let creates = operations.iter().filter(|op| *op == CREATE).count();
    assert_eq!(creates, 5, "{}", h.logs());
    assert_eq!(
        operations.last().map(String::as_str),
        Some(CREATE),
        "no undo"
    );
    assert_eq!(h.association_arns(), std::slice::from_ref(&arn));
}

/// A replacement whose Create may have been carried out (an attempt's answer was lost, and
/// EKS throttled the rest) is undone before it answers, with one look: the undo.
#[tokio::test]
async fn a_replacement_throttled_after_a_lost_answer_is_undone_in_time() {
    let h = Harness::start().await;
    let old = properties();
    let arn = h.create(old.clone()).await;
    h.standin.clear_eks_calls();
    h.standin
        .inject(FaultTarget::eks(CREATE), Fault::ResetAfterHandling, 1);
    h.standin
        .inject(FaultTarget::eks(CREATE), throttled(), 1000);
    let moved = properties_with(json!({"ServiceAccount": "moved"}));
    let response = h.send(&h.update(&arn, old, moved)).await;
    assert_failed(&response, &["ThrottlingException", "It was cleaned up"]);
    assert_eq!(response["PhysicalResourceId"], arn.as_str());
    assert!(h.ended_before_the_deadline(), "{}", h.logs());
    assert_eq!(h.association_arns(), std::slice::from_ref(&arn));
    // The undo looks once: CloudFormation may already have rolled back, and a later
    // deployment's association there, with the same tags, must not meet a second look.
    let operations = h.eks_operations();
    let last_create = operations.iter().rposition(|op| op == CREATE).unwrap();
    assert_eq!(
        operations[last_create + 1],
        "ListPodIdentityAssociations",
        "{}",
        h.logs()
    );
    assert_eq!(
        operations[last_create + 2..]
            .iter()
            .filter(|op| *op == "ListPodIdentityAssociations")
            .count(),
        0,
        "one look: {operations:?}"
    );
}

/// Lambda runs a replacement again when its answer never reached the bucket. If that run
/// failed after a Create that may have taken effect, it removed what the Create made; should
/// EKS answer the repeated token with that deleted association (the API does not say), the
/// retry must not report it: CloudFormation would keep a gone association and delete the
/// original in its clean-up, leaving the pods with neither.
#[tokio::test]
async fn a_retried_replacement_does_not_report_the_association_its_first_run_removed() {
    let h = Harness::start().await;
    h.standin.keep_tokens_of_deleted();
    let old = properties();
    let arn = h.create(old.clone()).await;
    // The Create takes effect, its answer is lost and EKS throttles the rest until the
    // deadline; then no answer gets through to the bucket.
    h.standin
        .inject(FaultTarget::eks(CREATE), Fault::ResetAfterHandling, 1);
    h.standin
        .inject(FaultTarget::eks(CREATE), throttled(), 1000);
    h.standin.inject(
        FaultTarget::Bucket,
        Fault::status(503, "SlowDown", "Reduce your request rate"),
        1000,
    );
    let moved = properties_with(json!({"ServiceAccount": "moved"}));
    let event = h.update(&arn, old, moved);
    // 14 s: the Create's five attempts end by about 7.5 s, before the 11.2 s cut-off, and the
    // undo then has until halfway to the deadline. (A replacement that found its service
    // account free is never run again.)
    let outcome = h.invoke(&event, Duration::from_secs(14)).await;
    assert!(matches!(outcome, Outcome::Error { .. }), "{outcome:?}");
    assert_eq!(
        h.association_arns(),
        std::slice::from_ref(&arn),
        "the first run removed what its Create made: {}",
        h.logs()
    );

    // Lambda's retry, a minute or more after the first run.
    h.standin.clear_faults();
    h.standin.clear_eks_calls();
    let later = h.sent_ago(event.clone(), Duration::from_secs(70));
    let retry = h.invoke(&later, Duration::from_secs(30)).await;
    assert!(matches!(retry, Outcome::Response(_)), "{retry:?}");
    let responses = h.responses(&event);
    assert_eq!(responses.len(), 1, "{responses:?}");
    assert_failed(&responses[0], &["deleted since", "nothing was created"]);
    assert_eq!(responses[0]["PhysicalResourceId"], arn.as_str());
    assert_eq!(h.association_arns(), std::slice::from_ref(&arn));
    // Nothing was left to undo: no look after the Describe that found it gone.
    let operations = h.eks_operations();
    assert_eq!(
        operations.last().map(String::as_str),
        Some("DescribePodIdentityAssociation"),
        "{operations:?}"
    );
}

#[tokio::test]
async fn a_role_still_propagating_is_retried_until_iam_catches_up() {
    let h = Harness::start().await;
    h.standin
        .inject(FaultTarget::eks(CREATE), role_not_found(), 2);
    let response = h.send(&h.event("Create", properties(), None)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(h.standin.associations().len(), 1);
    let calls = |op: &str| h.eks_operations().iter().filter(|o| *o == op).count();
    assert_eq!(calls(CREATE), 3, "two refused, then the one that took");

    // The same on an in-place update of the role.
    let arn = response["PhysicalResourceId"].as_str().unwrap().to_owned();
    h.standin.inject(
        FaultTarget::eks("UpdatePodIdentityAssociation"),
        role_not_found(),
        1,
    );
    let fresh = "arn:aws:iam::111122223333:role/fresh";
    let new = properties_with(json!({ "RoleArn": fresh }));
    let response = h.send(&h.update(&arn, properties(), new)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(
        calls("UpdatePodIdentityAssociation"),
        2,
        "one refused, then retried"
    );
    assert_eq!(h.standin.associations()[0].role_arn, fresh);
}

/// A replacement's Create for a role just made, at a service account whose association the
/// same deployment just deleted, meets IAM propagation first and the delete that EKS has not
/// finished after: the 30 s it waits out such a conflict start at the conflict, however long
/// IAM took. (Nine refusals: at least 32.5 s of pauses.)
#[tokio::test]
async fn a_conflict_after_a_long_iam_propagation_still_gets_its_window() {
    let h = Harness::start().await;
    h.standin
        .inject(FaultTarget::eks(CREATE), role_not_found(), 9);
    let taken = "Service account is still associated with a deleted association";
    h.standin.inject(
        FaultTarget::eks(CREATE),
        Fault::status(409, "ResourceInUseException", taken),
        2,
    );
    let create = h.event("Create", properties(), None);
    let response = h.send_within(&create, Duration::from_secs(120)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}\n{}", h.logs());
    assert_eq!(h.standin.associations().len(), 1);
    let creates = h.eks_operations().iter().filter(|op| *op == CREATE).count();
    assert_eq!(
        creates, 12,
        "nine refused, two in conflict, then the one that took"
    );
    assert!(h.logs().contains("still taken by a deleted association"));
}

#[tokio::test]
async fn other_invalid_parameters_fail_at_once() {
    let h = Harness::start().await;
    h.standin.inject(
        FaultTarget::eks(CREATE),
        Fault::status(
            400,
            "InvalidParameterException",
            "Cross-account pass role is not allowed.",
        ),
        1,
    );
    let response = h.send(&h.event("Create", properties(), None)).await;
    assert_failed(
        &response,
        &["InvalidParameterException", "Cross-account pass role"],
    );
    assert_eq!(h.eks_operations(), vec![CREATE], "not retried");
}

#[tokio::test]
async fn a_propagation_that_outlasts_the_deadline_is_answered_in_time() {
    let h = Harness::start().await;
    h.standin
        .inject(FaultTarget::eks(CREATE), role_not_found(), 1000);
    // 10 s: a cut-off 8 s in, and so time for at least one retry, which must start 3 s
    // before it, even when the first call comes seconds late.
    let event = h.event("Create", properties(), None);
    let outcome = h.invoke(&event, Duration::from_secs(10)).await;
    assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
    let responses = h.responses(&event);
    assert_eq!(responses.len(), 1);
    // EKS's own answer, not the deadline's "Timed out" with advice to raise a limit: the
    // role may simply not exist.
    assert_failed(
        &responses[0],
        &[
            ROLE_NOT_FOUND,
            "times over",
            "until the event's time ran short",
        ],
    );
    assert!(!responses[0]["Reason"]
        .as_str()
        .unwrap_or_default()
        .contains("Timed out"));
    // Refused each time, so nothing was made, and its Delete calls nothing.
    let id = responses[0]["PhysicalResourceId"]
        .as_str()
        .unwrap_or_default();
    assert!(
        id.starts_with("cfn-eks-pod-identity-nothing-created-"),
        "{id}"
    );
    assert!(h.statuses_of(CREATE).len() >= 2, "retried at least once");
    assert!(
        h.ended_before_the_deadline(),
        "the answer came after the deadline"
    );

    // The same for an in-place update to a role that does not exist: EKS's answer, and the
    // association as it was.
    h.standin.clear_faults();
    let arn = h.create(properties()).await;
    h.standin.inject(
        FaultTarget::eks("UpdatePodIdentityAssociation"),
        role_not_found(),
        1000,
    );
    let new = properties_with(json!({"RoleArn": "arn:aws:iam::111122223333:role/typo"}));
    let update = h.update(&arn, properties(), new);
    let outcome = h.invoke(&update, Duration::from_secs(10)).await;
    assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
    let responses = h.responses(&update);
    assert_eq!(responses.len(), 1);
    assert_failed(&responses[0], &[ROLE_NOT_FOUND, "times over"]);
    assert_eq!(responses[0]["PhysicalResourceId"], arn.as_str());
    let kept = h
        .standin
        .associations()
        .into_iter()
        .find(|a| a.association_arn == arn)
        .expect("the association is still there");
    assert_eq!(
        kept.role_arn,
        properties()["RoleArn"].as_str().unwrap_or_default()
    );
}

/// Sends a Create, in a function given `timeout`, while the bucket meets the next `count`
/// PUTs with `fault`: the event, and how its invocation ended.
async fn create_while_the_bucket_fails(
    h: &Harness,
    fault: Fault,
    count: u32,
    timeout: Duration,
) -> (Value, Outcome) {
    h.standin.inject(FaultTarget::Bucket, fault, count);
    let event = h.event("Create", properties(), None);
    let outcome = h.invoke(&event, timeout).await;
    (event, outcome)
}

#[tokio::test]
async fn a_bucket_that_hangs_does_not_outlive_the_deadline() {
    let h = Harness::start().await;
    let (_, outcome) = create_while_the_bucket_fails(
        &h,
        Fault::Delay(Duration::from_secs(60)),
        1000,
        Duration::from_secs(4),
    )
    .await;
    assert!(
        matches!(outcome, Outcome::Error { .. }),
        "an undelivered response is an invocation error: {outcome:?}"
    );
    assert!(
        h.ended_before_the_deadline(),
        "the invocation ended after its deadline"
    );
}

/// A PUT that stalls once, with the deadline a few seconds off (as after an EKS call that
/// hung until the guard), still leaves time to try again on a fresh connection.
#[tokio::test]
async fn a_put_that_stalls_near_the_deadline_leaves_time_for_another() {
    let h = Harness::start().await;
    let (event, outcome) = create_while_the_bucket_fails(
        &h,
        Fault::Delay(Duration::from_secs(60)),
        1,
        Duration::from_secs(4),
    )
    .await;
    assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
    assert_eq!(h.standin.injected_fault_count(), 1);
    let responses = h.responses(&event);
    assert_eq!(responses.len(), 1, "{responses:?}");
    assert_eq!(responses[0]["Status"], "SUCCESS", "{}", responses[0]);
    assert!(h.ended_before_the_deadline(), "{}", h.logs());
}

#[tokio::test]
async fn a_bucket_down_for_good_ends_in_an_invocation_error_so_lambda_retries() {
    let h = Harness::start().await;
    let (event, outcome) = create_while_the_bucket_fails(
        &h,
        Fault::status(503, "SlowDown", "Reduce your request rate"),
        1000,
        Duration::from_secs(6),
    )
    .await;
    assert!(matches!(outcome, Outcome::Error { .. }), "{outcome:?}");
    assert!(
        h.standin.injected_fault_count() >= 3,
        "several attempts were made"
    );
    // Lambda's retry of the same event, a minute later, then gets through, and creates
    // nothing twice: the Create's token gets back what the first run made, which is older
    // than the retry, so it is described, found, and reported. (The association is made a
    // minute older, as it would be by then: the retry's Create comes only about 6 s after
    // the first run's here, and a first run slow to start would leave it within the 5 s
    // taken for a difference of clocks.)
    h.standin.clear_faults();
    h.standin.clear_eks_calls();
    let made = h.association_arns();
    assert_eq!(made.len(), 1, "the first run made the association");
    assert!(h
        .standin
        .backdate_association(&made[0], Duration::from_secs(60)));
    let retry = h.sent_ago(event.clone(), Duration::from_secs(70));
    let outcome = h.invoke(&retry, Duration::from_secs(30)).await;
    assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
    let responses = h.responses(&event);
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0]["Status"], "SUCCESS", "{}", responses[0]);
    assert_eq!(
        h.association_arns(),
        [responses[0]["PhysicalResourceId"].as_str().unwrap()]
    );
    assert_eq!(
        h.eks_operations(),
        [CREATE, "DescribePodIdentityAssociation"],
        "{}",
        h.logs()
    );
}

/// An S3 outage longer than a few attempts is ridden out in the invocation, for as long as it
/// has time: Lambda's retry would run the event's EKS calls again a minute or more later,
/// when CloudFormation may have rolled back already.
#[tokio::test]
async fn a_bucket_that_fails_for_a_while_is_retried_within_the_invocation() {
    let h = Harness::start().await;
    let (event, outcome) = create_while_the_bucket_fails(
        &h,
        Fault::status(503, "SlowDown", "Reduce your request rate"),
        10,
        Duration::from_secs(40),
    )
    .await;
    assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
    assert_eq!(h.standin.injected_fault_count(), 10);
    assert_eq!(h.responses(&event).len(), 1);
    let creates = h.eks_operations().iter().filter(|op| *op == CREATE).count();
    assert_eq!(creates, 1, "the event ran once");
}

/// A status that sending again will not change (an expired URL, a refused signature) ends
/// the retries well before the deadline.
#[tokio::test]
async fn a_bucket_that_refuses_the_put_is_tried_a_few_times_only() {
    let h = Harness::start().await;
    let (_, outcome) = create_while_the_bucket_fails(
        &h,
        Fault::status(403, "AccessDenied", "Request has expired"),
        1000,
        Duration::from_secs(60),
    )
    .await;
    assert!(matches!(outcome, Outcome::Error { .. }), "{outcome:?}");
    assert_eq!(h.standin.injected_fault_count(), 8, "eight refusals");
}

#[tokio::test]
async fn a_redirect_that_stored_nothing_is_not_taken_for_delivery() {
    let h = Harness::start().await;
    // S3's answer for a bucket addressed at another region's endpoint: no Location, nothing
    // stored. Counted as delivered, the stack would wait an hour for the answer.
    let (event, outcome) = create_while_the_bucket_fails(
        &h,
        Fault::status(301, "PermanentRedirect", "use the specified endpoint"),
        2,
        Duration::from_secs(30),
    )
    .await;
    assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
    assert_eq!(h.standin.injected_fault_count(), 2);
    assert_eq!(h.responses(&event).len(), 1, "retried until it was stored");
    assert!(
        h.logs().contains("HTTP status 301"),
        "the log names the status"
    );
}

#[tokio::test]
async fn oversized_inputs_fail_quickly_and_clearly() {
    let h = Harness::start().await;
    let tags: Vec<_> = (0..10_000)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    let policy = format!(
        "{{\"Version\":\"2012-10-17\",\"Statement\":[{}]}}",
        vec!["{}"; 250_000].join(",")
    );
    let cases = [
        (
            properties_with(json!({"Tags": tags})),
            vec!["Tags", "at most 48"],
        ),
        (
            properties_with(json!({"DisableSessionTags": "true", "Policy": policy})),
            vec!["Policy", "at most 2048"],
        ),
        (
            properties_with(json!({"Padding": "x".repeat(200_000)})),
            vec!["Padding", "unknown property"],
        ),
    ];
    for (props, needles) in cases {
        let response = h.send(&h.event("Create", props, None)).await;
        assert_failed(&response, &needles);
    }
    assert!(h.eks_operations().is_empty());
}

#[tokio::test]
async fn a_placeholder_delete_that_eks_refuses_every_look_fails() {
    let h = Harness::start().await;
    // A failed Create's placeholder says a request of it may have reached EKS: that the
    // looks are refused, unlike an invented id's, says nothing of what it made.
    h.standin.inject(
        FaultTarget::eks("ListPodIdentityAssociations"),
        Fault::status(403, "AccessDeniedException", "not allowed"),
        1000,
    );
    let placeholder = "cfn-eks-pod-identity-0123abcd-4567-89ef-0123-456789abcdef";
    let delete = h.event("Delete", properties(), Some(placeholder));
    // 10 s: the last look is due 3 s in and may end 5 s in, time for a second one even when
    // the first ends seconds late.
    let response = h.send_within(&delete, Duration::from_secs(10)).await;
    assert_failed(&response, &["ListPodIdentityAssociations", "not allowed"]);
    assert!(h.ended_before_the_deadline());
    assert!(h.standin.injected_fault_count() >= 2, "it looked again");
}

#[tokio::test]
async fn an_invented_id_delete_that_eks_refuses_every_look_does_not_stick_the_rollback() {
    let h = Harness::start().await;
    // CloudFormation gave up on a Create before its FAILED came (say another resource failed
    // at once), and that Create met the refusal this Delete meets: it made nothing.
    let list = || FaultTarget::eks("ListPodIdentityAssociations");
    h.standin.inject(
        list(),
        Fault::status(403, "AccessDeniedException", "not allowed"),
        1000,
    );
    let invented = "payments-PodIdentity-1XYZ";
    let delete = h.event("Delete", properties(), Some(invented));
    let response = h.send_within(&delete, Duration::from_secs(12)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert!(h.ended_before_the_deadline());
    assert!(h.standin.injected_fault_count() >= 2, "it looked again");
    // An error that leaves the Create's outcome unknown fails the Delete, naming it.
    h.standin.clear_faults();
    h.standin.inject(
        list(),
        Fault::status(400, "SomethingNewException", "unheard of"),
        1000,
    );
    let response = h
        .send_within(
            &h.event("Delete", properties(), Some(invented)),
            Duration::from_secs(12),
        )
        .await;
    assert_failed(&response, &["ListPodIdentityAssociations", "unheard of"]);
    assert!(h.ended_before_the_deadline());
    // So does throttling, which says nothing of what the Create met.
    h.standin.clear_faults();
    h.standin.inject(list(), throttled(), 1000);
    let response = h
        .send_within(
            &h.event("Delete", properties(), Some(invented)),
            Duration::from_secs(12),
        )
        .await;
    assert_failed(
        &response,
        &["ListPodIdentityAssociations", "ThrottlingException"],
    );
    assert!(h.ended_before_the_deadline());
    // And so does a last refusal after a look of another kind (the SDK's five attempts of
    // the first, throttled): only when every look failed as the Create would have is the
    // Create taken to have made nothing. The SDK's four pauses between those attempts take
    // up to 7.5 s (full jitter), so the event has 16 s: its last look is due 7.8 s in, and
    // with 12 s a first look that ended past 6.6 s left no time for a second one.
    h.standin.clear_faults();
    h.standin.inject(list(), throttled(), 5);
    h.standin.inject(
        list(),
        Fault::status(403, "AccessDeniedException", "not allowed"),
        1000,
    );
    let response = h
        .send_within(
            &h.event("Delete", properties(), Some(invented)),
            Duration::from_secs(16),
        )
        .await;
    assert_failed(
        &response,
        &["ListPodIdentityAssociations", "AccessDeniedException"],
    );
    assert!(h.ended_before_the_deadline());
}
