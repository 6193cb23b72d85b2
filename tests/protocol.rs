//! The CloudFormation protocol through the real binary: bad input, SNS, the CDK provider
//! framework, unknown request types, the deadline, the size limit, the ResponseURL check and
//! what reaches the logs.

mod common;

use common::{assert_failed, properties, properties_with, Harness};
use serde_json::{json, Value};
use standin::{Fault, FaultTarget, Outcome, Standin, SECRET_ACCESS_KEY, SESSION_TOKEN, SIGNATURE};
use std::time::Duration;

const FRAMEWORK: &str =
    "arn:aws:lambda:us-east-1:111122223333:function:payments-ProviderframeworkonEvent-AbC123";

/// `event` as the CDK provider framework passes it on: its own function is the ServiceToken,
/// in the event and in the properties.
fn via_framework(mut event: Value) -> Value {
    event["ServiceToken"] = json!(FRAMEWORK);
    event["ResourceProperties"]["ServiceToken"] = json!(FRAMEWORK);
    event
}

#[tokio::test]
async fn each_class_of_invalid_property_fails_naming_it_and_changes_nothing() {
    let h = Harness::start().await;
    let cases = [
        (
            json!({"ClusterName": null}),
            vec!["ClusterName", "required"],
        ),
        (
            json!({"ClusterName": "bad.name"}),
            vec!["ClusterName", "letters, digits"],
        ),
        (
            json!({"Namespace": "Payments"}),
            vec!["Namespace", "DNS-1123 label"],
        ),
        (
            json!({"ServiceAccount": "api_v1"}),
            vec!["ServiceAccount", "DNS-1123 subdomain"],
        ),
        (
            json!({"RoleArn": "arn:aws:iam::111122223333:user/bob"}),
            vec!["RoleArn", "IAM role ARN"],
        ),
        (
            json!({"TargetRoleArn": "role/x"}),
            vec!["TargetRoleArn", "IAM role ARN"],
        ),
        (json!({"Region": "moon-1"}), vec!["Region", "region"]),
        (
            json!({"DisableSessionTags": "maybe"}),
            vec!["DisableSessionTags", "\"true\" or \"false\""],
        ),
        (
            json!({"Policy": "{\"Version\": \"2012-10-17\"}"}),
            vec!["Policy", "DisableSessionTags"],
        ),
        (
            json!({"Policy": "not json", "DisableSessionTags": "true"}),
            vec!["Policy", "JSON"],
        ),
        (
            json!({"Tags": [{"Key": "aws:reserved", "Value": "x"}]}),
            vec!["Tags", "reserved"],
        ),
        (
            json!({"Tags": [{"Key": "k", "Value": "v".repeat(300)}]}),
            vec!["Tags", "256"],
        ),
        (
            json!({"Tags": (0..49).map(|i| json!({"Key": format!("k{i}"), "Value": "v"})).collect::<Vec<_>>()}),
            vec!["Tags", "at most 48"],
        ),
        (
            json!({"RoleARN": "arn:aws:iam::111122223333:role/x"}),
            vec!["RoleARN", "unknown property"],
        ),
    ];
    for (change, needles) in cases {
        for request_type in ["Create", "Update"] {
            let physical = (request_type == "Update").then_some("PodIdentity-ABC");
            let response = h
                .send(&h.event(request_type, properties_with(change.clone()), physical))
                .await;
            assert_failed(&response, &needles);
            if let Some(id) = physical {
                assert_eq!(
                    response["PhysicalResourceId"], id,
                    "a failed Update keeps its id"
                );
            }
        }
    }
    assert!(h.eks_operations().is_empty(), "{:?}", h.eks_operations());
}

#[tokio::test]
async fn json_booleans_from_cdk_are_accepted() {
    let h = Harness::start().await;
    let policy = json!({"Version": "2012-10-17", "Statement": []});
    let arn = h
        .create(properties_with(
            json!({"DisableSessionTags": true, "Policy": policy}),
        ))
        .await;
    let created = h
        .standin
        .associations()
        .into_iter()
        .find(|a| a.association_arn == arn)
        .unwrap();
    assert!(created.disable_session_tags);
    let sent: Value = serde_json::from_str(created.policy.as_deref().unwrap_or("")).unwrap();
    assert_eq!(sent, policy, "the policy object reaches EKS as its JSON");
}

#[tokio::test]
async fn sns_wrapped_events_answer_at_their_response_url() {
    let h = Harness::start().await;
    let inner = h.event("Create", properties(), None);
    let wrapped = json!({"Records": [{
        "EventSource": "aws:sns",
        "Sns": {"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:111122223333:cfn", "Message": inner.to_string()}
    }]});
    let outcome = h.invoke(&wrapped, Duration::from_secs(30)).await;
    assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
    let responses = h.responses(&inner);
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0]["Status"], "SUCCESS", "{}", responses[0]);
    assert_eq!(h.standin.associations().len(), 1);
}

#[tokio::test]
async fn behind_the_provider_framework_the_result_is_returned_not_put() {
    let h = Harness::start().await;
    // The event keeps a ResponseURL at the stand-in's bucket, so that a PUT would show.
    let event = via_framework(h.event("Create", properties(), None));
    let Outcome::Response(result) = h.invoke(&event, Duration::from_secs(30)).await else {
        panic!("provider mode returns a result; logs:\n{}", h.logs());
    };
    let arn = result["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert!(arn.contains(":podidentityassociation/prod/a-"), "{result}");
    assert_eq!(result["Data"]["AssociationArn"], arn.as_str());
    assert_eq!(result["Data"]["ExternalId"], "");

    // A failure is an invocation error; the framework turns its message into the Reason.
    let bad = via_framework(h.event("Create", properties_with(json!({"Namespace": "X"})), None));
    let Outcome::Error { message, .. } = h.invoke(&bad, Duration::from_secs(30)).await else {
        panic!("provider mode reports a failure as an error");
    };
    assert!(message.contains("Namespace"), "{message}");

    // The framework refuses a Delete that answers with another id. Its events carry the
    // placeholder "..." for a ResponseURL, which provider mode never needs.
    let mut delete = via_framework(h.event("Delete", json!({}), Some(&arn)));
    delete["ResponseURL"] = json!("...");
    let Outcome::Response(result) = h.invoke(&delete, Duration::from_secs(30)).await else {
        panic!("delete in provider mode");
    };
    assert_eq!(result["PhysicalResourceId"], arn.as_str());
    assert!(h.standin.associations().is_empty());
    assert!(
        h.responses(&event).is_empty(),
        "the result is returned, not PUT"
    );
    assert!(
        h.standin
            .responses(bad["RequestId"].as_str().unwrap())
            .is_empty(),
        "no PUT in provider mode"
    );
}

#[tokio::test]
async fn response_mode_can_be_forced() {
    let h = Harness::start_with(&[("CFN_RESPONSE_MODE", "direct")]).await;
    let mut event = h.event("Create", properties(), None);
    event["ServiceToken"] = json!(FRAMEWORK);
    let response = h.send(&event).await;
    assert_eq!(response["Status"], "SUCCESS");

    let h = Harness::start_with(&[("CFN_RESPONSE_MODE", "provider")]).await;
    let event = h.event("Create", properties(), None);
    let Outcome::Response(result) = h.invoke(&event, Duration::from_secs(30)).await else {
        panic!("forced provider mode returns the result");
    };
    assert!(result["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:eks:"));
    assert!(h.responses(&event).is_empty());
}

/// A value the function does not know is logged and read as `auto`: each event is answered
/// the way its ServiceToken says, rather than the function refusing every event.
#[tokio::test]
async fn an_unknown_response_mode_is_logged_and_taken_as_auto() {
    let h = Harness::start_with(&[("CFN_RESPONSE_MODE", "bogus")]).await;
    let direct = h.event("Create", properties(), None);
    let response = h.send(&direct).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(h.responses(&direct).len(), 1);

    let framework = via_framework(h.event(
        "Create",
        properties_with(json!({"ServiceAccount": "framework"})),
        None,
    ));
    let Outcome::Response(result) = h.invoke(&framework, Duration::from_secs(30)).await else {
        panic!("behind the framework, the result is returned");
    };
    assert!(result["PhysicalResourceId"]
        .as_str()
        .unwrap_or_default()
        .starts_with("arn:aws:eks:"));
    assert!(
        h.responses(&framework).is_empty(),
        "no PUT behind the framework"
    );
    assert!(
        h.logs().contains("must be direct, provider or auto"),
        "{}",
        h.logs()
    );
}

#[tokio::test]
async fn unknown_or_missing_request_types_fail_without_eks_calls() {
    let h = Harness::start().await;
    let response = h.send(&h.event("Upsert", properties(), None)).await;
    assert_failed(&response, &["Unknown RequestType", "Upsert"]);
    let mut event = h.event("Create", properties(), None);
    event.as_object_mut().unwrap().remove("RequestType");
    let response = h.send(&event).await;
    assert_failed(&response, &["no RequestType"]);
    assert!(h.eks_operations().is_empty());
}

#[tokio::test]
async fn odd_shapes_still_get_one_answer() {
    let h = Harness::start().await;
    let mut event = h.event("Create", json!("not an object"), None);
    event["RequestType"] = json!("Create");
    event["Unknown"] = json!({"nested": [1, 2, 3]});
    let response = h.send(&event).await;
    assert_failed(&response, &["ClusterName", "required"]);
    // An SNS envelope whose message is not JSON, but still names a ResponseURL.
    let inner = h.event("Create", properties(), None);
    let broken = format!("{},", inner);
    let wrapped = json!({"Records": [{"Sns": {"Message": broken}}]});
    let outcome = h.invoke(&wrapped, Duration::from_secs(30)).await;
    assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
    let responses = h.responses(&inner);
    assert_eq!(responses.len(), 1);
    assert_failed(&responses[0], &["could not be read"]);
    assert!(h.eks_operations().is_empty());
}

#[tokio::test]
async fn the_deadline_is_answered_with_failed_when_eks_hangs() {
    let h = Harness::start().await;
    h.standin.inject(
        FaultTarget::eks("CreatePodIdentityAssociation"),
        Fault::Delay(Duration::from_secs(60)),
        1,
    );
    let event = h.event("Create", properties(), None);
    let response = h.send_within(&event, Duration::from_secs(4)).await;
    // The function's own limit was the one reached, and the Reason says which to raise.
    assert_failed(&response, &["Timed out", "raise its timeout"]);
    let reason = response["Reason"].as_str().unwrap_or_default();
    assert!(!reason.contains("ServiceTimeout"), "{reason}");
    assert!(h.ended_before_the_deadline(), "answered after the deadline");

    // The process is still serving: the next event works.
    let arn = h
        .create(properties_with(json!({"ServiceAccount": "next"})))
        .await;
    assert!(arn.starts_with("arn:aws:eks:"));
}

/// Sends `event`, a Create that EKS holds for a minute in a function with a minute to run,
/// and asserts that it is answered Timed out, naming the ServiceTimeout, within `waits` of
/// being handed out: before CloudFormation stops waiting.
async fn assert_answered_before_cloudformation_stops_waiting(
    h: &Harness,
    event: &Value,
    waits: Duration,
) {
    h.standin.inject(
        FaultTarget::eks("CreatePodIdentityAssociation"),
        Fault::Delay(Duration::from_secs(60)),
        1,
    );
    let response = h.send_within(event, Duration::from_secs(60)).await;
    assert_failed(&response, &["Timed out", "ServiceTimeout"]);
    let handed_out = h.standin.invocations().pop().and_then(|i| i.handed_out_at);
    let answered = h.standin.responses(event["RequestId"].as_str().unwrap())[0].received_at;
    assert!(
        answered - handed_out.expect("handed out") < waits,
        "answered after CloudFormation stopped waiting"
    );
}

#[tokio::test]
async fn a_short_service_timeout_is_answered_before_cloudformation_stops_waiting() {
    let h = Harness::start().await;
    // CloudFormation waits 4 s; the function itself may run for a minute. Working on past
    // those 4 s would create an association after the stack has given up on it.
    let event = h.event(
        "Create",
        properties_with(json!({"ServiceTimeout": "4"})),
        None,
    );
    assert_answered_before_cloudformation_stops_waiting(&h, &event, Duration::from_secs(4)).await;
}

/// After its ServiceTimeout CloudFormation has failed the resource and rolled back: a Create
/// run then would make an association no stack knows of, an Update would undo the rollback.
#[tokio::test]
async fn an_event_that_comes_after_cloudformation_stopped_waiting_changes_nothing() {
    let h = Harness::start().await;
    let arn = h.create(properties()).await;
    let calls = h.eks_operations().len();
    let minutes = |n: u64| Duration::from_secs(60 * n);

    // CloudFormation's default hour, and more.
    let create = h.sent_ago(
        h.event(
            "Create",
            properties_with(json!({"ServiceAccount": "late"})),
            None,
        ),
        minutes(70),
    );
    let response = h.send(&create).await;
    assert_failed(
        &response,
        &[
            "came 1 h 10 min after CloudFormation sent it",
            "nothing was changed",
        ],
    );
    assert!(
        response["PhysicalResourceId"]
            .as_str()
            .unwrap()
            .contains("nothing-created"),
        "its Delete, if one comes, needs no look: {response}"
    );

    // A ServiceTimeout of ten minutes, twenty minutes ago.
    let moved = properties_with(
        json!({"RoleArn": "arn:aws:iam::111122223333:role/moved", "ServiceTimeout": "600"}),
    );
    let update = h.sent_ago(h.update(&arn, properties(), moved), minutes(20));
    let response = h.send(&update).await;
    assert_failed(&response, &["waits 10 min for the answer"]);
    assert_eq!(response["PhysicalResourceId"], arn.as_str());

    // Behind the provider framework, a failure: the framework answers.
    let create = via_framework(h.sent_ago(
        h.event(
            "Create",
            properties_with(json!({"ServiceAccount": "late"})),
            None,
        ),
        minutes(70),
    ));
    let Outcome::Error { message, .. } = h.invoke(&create, Duration::from_secs(30)).await else {
        panic!(
            "provider mode reports a late event as a failure; logs:\n{}",
            h.logs()
        );
    };
    assert!(message.contains("nothing was changed"), "{message}");

    assert_eq!(
        h.eks_operations().len(),
        calls,
        "no EKS call for a late event"
    );
    assert_eq!(h.standin.associations().len(), 1);
    assert_eq!(
        h.standin.associations()[0].role_arn,
        "arn:aws:iam::111122223333:role/payments-api"
    );
}

/// An event signed with SigV2 (as in older events) says only when its URL expires: once it
/// has, nothing is changed, and nothing is PUT to a URL S3 would refuse. A Delete too: the
/// association it names may be the resource's again by now (README, Failure behaviour).
#[tokio::test]
async fn an_event_whose_url_has_expired_changes_nothing_and_puts_nothing() {
    let h = Harness::start().await;
    let arn = h.create(properties()).await;
    let calls = h.eks_operations().len();
    let mut delete = h.event("Delete", properties(), Some(&arn));
    let key = delete["RequestId"].as_str().unwrap().to_owned();
    let expired = std::time::SystemTime::now() - Duration::from_secs(10 * 60);
    let expires = expired
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    delete["ResponseURL"] = json!(format!(
        "{}/bucket/{key}?AWSAccessKeyId=AKIDSTANDIN&Expires={expires}&Signature={SIGNATURE}",
        h.standin.plain_url()
    ));
    let outcome = h.invoke(&delete, Duration::from_secs(30)).await;
    let Outcome::Response(result) = outcome else {
        panic!("a late event's invocation succeeds: {outcome:?}");
    };
    assert_eq!(result["Status"], "FAILED", "{result}");
    // Neither stored nor refused (the bucket refuses a PUT to an expired URL, as S3 does).
    assert!(
        h.standin.responses(&key).is_empty(),
        "no PUT to an expired URL"
    );
    let refused: Vec<_> = h
        .standin
        .rejected_uploads()
        .into_iter()
        .filter(|put| put.key == key)
        .collect();
    assert!(refused.is_empty(), "no PUT to an expired URL: {refused:?}");
    assert_eq!(h.eks_operations().len(), calls, "no EKS call");
    assert_eq!(h.standin.associations().len(), 1, "the association stays");
    assert!(h.logs().contains("expired 10 min ago"), "{}", h.logs());
}

/// A late event's answer is only a courtesy: CloudFormation no longer reads it. Its
/// invocation succeeds whether or not the PUT gets through, since failing it would have
/// Lambda run the event twice more, for nothing.
#[tokio::test]
async fn a_late_event_whose_answer_cannot_be_delivered_still_succeeds() {
    let h = Harness::start().await;
    h.standin.inject(
        FaultTarget::Bucket,
        Fault::status(503, "SlowDown", "Please reduce your request rate."),
        1000,
    );
    let create = h.sent_ago(
        h.event("Create", properties(), None),
        Duration::from_secs(70 * 60),
    );
    let outcome = h.invoke(&create, Duration::from_secs(5)).await;
    let Outcome::Response(result) = outcome else {
        panic!("a late event's invocation succeeds, delivered or not: {outcome:?}");
    };
    assert_eq!(result["Status"], "FAILED", "{result}");
    assert!(h.responses(&create).is_empty());
    assert!(h.standin.injected_fault_count() >= 1, "the PUT was tried");
    assert!(h.eks_operations().is_empty(), "no EKS call");
}

/// An event that waited in Lambda's queue has only what is left of CloudFormation's wait,
/// read from when CloudFormation signed its URL, not its whole ServiceTimeout from now.
#[tokio::test]
async fn an_event_that_waited_has_only_the_rest_of_cloudformations_wait() {
    let h = Harness::start().await;
    // Sent 9 min 52 s ago, with 10 minutes to answer: 8 s are left.
    let event = h.event(
        "Create",
        properties_with(json!({"ServiceTimeout": "600"})),
        None,
    );
    let event = h.sent_ago(event, Duration::from_secs(592));
    assert_answered_before_cloudformation_stops_waiting(&h, &event, Duration::from_secs(8)).await;
}

/// Lambda's queue and retries delay events by minutes; within the ServiceTimeout they are
/// carried out as any other.
#[tokio::test]
async fn an_event_that_waited_within_the_service_timeout_is_carried_out() {
    let h = Harness::start().await;
    let create = h.sent_ago(
        h.event("Create", properties(), None),
        Duration::from_secs(50 * 60),
    );
    let response = h.send(&create).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(h.standin.associations().len(), 1);
}

#[tokio::test]
async fn behind_the_framework_a_failed_create_removes_what_it_made() {
    let h = Harness::start().await;
    // EKS creates the association, but neither its answer nor a retry's gets through.
    h.lose_create_answers();
    let event = via_framework(h.event("Create", properties(), None));
    let Outcome::Error { message, .. } = h.invoke(&event, Duration::from_secs(60)).await else {
        panic!(
            "provider mode reports a failure as an error; logs:\n{}",
            h.logs()
        );
    };
    // The framework answers the Delete that follows without calling the function, so
    // nothing else would ever remove it.
    assert!(message.contains("It was cleaned up"), "{message}");
    assert!(
        h.standin.associations().is_empty(),
        "{:?}",
        h.standin.associations()
    );
}

#[tokio::test]
async fn a_huge_eks_error_still_fits_in_4096_bytes() {
    let h = Harness::start().await;
    let message = "Role provided in the request is not valid. ".repeat(300);
    h.standin.inject(
        FaultTarget::eks("CreatePodIdentityAssociation"),
        Fault::status(400, "InvalidParameterException", &message),
        1,
    );
    let event = h.event("Create", properties(), None);
    let outcome = h.invoke(&event, Duration::from_secs(30)).await;
    assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
    let puts = h.standin.responses(event["RequestId"].as_str().unwrap());
    assert_eq!(puts.len(), 1);
    assert!(puts[0].body.len() <= 4096, "{} bytes", puts[0].body.len());
    assert_eq!(puts[0].content_length, Some(puts[0].body.len() as u64));
    assert!(
        puts[0].content_type.as_deref().unwrap_or("").is_empty(),
        "no Content-Type"
    );
    let response: Value = serde_json::from_slice(&puts[0].body).unwrap();
    assert_failed(
        &response,
        &["CreatePodIdentityAssociation", "InvalidParameterException"],
    );
    assert_eq!(response["RequestId"], event["RequestId"]);

    // Behind the CDK provider framework, which adds a log line and a stack trace to the
    // message and sends the lot without shortening it, the message leaves it room.
    h.standin.inject(
        FaultTarget::eks("CreatePodIdentityAssociation"),
        Fault::status(400, "InvalidParameterException", &message),
        1,
    );
    let event = via_framework(h.event("Create", properties(), None));
    let Outcome::Error { message, .. } = h.invoke(&event, Duration::from_secs(30)).await else {
        panic!("provider mode reports a failure as an error");
    };
    assert!(message.len() <= 2048, "{} bytes", message.len());
    assert!(
        message.contains("CreatePodIdentityAssociation") && message.ends_with('…'),
        "{message}"
    );
}

#[tokio::test]
async fn a_non_aws_response_url_is_never_contacted() {
    // Without the loopback allowance the stand-in's URL is refused, and nothing is created.
    let h = Harness::start_with(&[("CFN_RESPONSE_ALLOW_LOOPBACK", "")]).await;
    let event = h.event("Create", properties(), None);
    let outcome = h.invoke(&event, Duration::from_secs(30)).await;
    assert!(matches!(outcome, Outcome::Error { .. }), "{outcome:?}");
    assert!(h.responses(&event).is_empty());
    assert!(
        h.standin.associations().is_empty(),
        "nothing is done when no answer can be sent"
    );
    // The refusal is logged (so the logs were read), without the URL's credential.
    assert!(h.logs().contains("no response can be sent"), "{}", h.logs());
    assert!(!h.logs().contains(SIGNATURE));

    let h = Harness::start().await;
    let mut event = h.event("Create", properties(), None);
    event["ResponseURL"] = json!(format!(
        "https://example.com/bucket/k?X-Amz-Signature={SIGNATURE}"
    ));
    let outcome = h.invoke(&event, Duration::from_secs(30)).await;
    assert!(matches!(outcome, Outcome::Error { .. }), "{outcome:?}");
    assert!(
        h.logs().contains("not in an AWS partition's domain"),
        "{}",
        h.logs()
    );
    assert!(!h.logs().contains(SIGNATURE));
    assert!(h.standin.associations().is_empty());
    assert!(h.eks_operations().is_empty(), "{:?}", h.eks_operations());
}

/// Neither the presigned URL's signature nor the function's own credentials reach the logs,
/// even at TRACE, where the SDK logs each request it signs and sends.
#[tokio::test]
async fn no_credential_reaches_the_logs() {
    let h = Harness::start_with(&[("RUST_LOG", "trace"), ("AWS_LAMBDA_LOG_FORMAT", "JSON")]).await;
    let arn = h.create(properties()).await;
    // Failures log the URL too: a connection reset (reqwest's error text names the URL), a
    // bucket that refuses a few times, then one that never accepts.
    h.standin.inject(FaultTarget::Bucket, Fault::Reset, 1);
    h.standin.inject(
        FaultTarget::Bucket,
        Fault::status(503, "SlowDown", "Please reduce your request rate."),
        2,
    );
    let response = h.send(&h.event("Delete", properties(), Some(&arn))).await;
    assert_eq!(response["Status"], "SUCCESS");
    assert_eq!(h.standin.injected_fault_count(), 3, "each fault was met");
    h.standin.inject(
        FaultTarget::Bucket,
        Fault::status(403, "AccessDenied", "Request has expired"),
        100,
    );
    let event = h.event("Create", properties(), None);
    let outcome = h.invoke(&event, Duration::from_secs(3)).await;
    assert!(
        matches!(outcome, Outcome::Error { .. }),
        "undelivered means an invocation error: {outcome:?}"
    );
    let logs = h.logs();
    assert!(logs.contains("response PUT failed"), "{logs}");
    let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(SIGNATURE)).collect();
    assert!(
        leaks.is_empty(),
        "the presigned URL's signature leaked into the logs:\n{}",
        leaks.join("\n")
    );
    assert!(
        !logs.contains("X-Amz-Signature"),
        "the presigned URL's query leaked into the logs"
    );
    // aws-sigv4's own TRACE line (a rewording in an SDK upgrade shows up here): the lines
    // that would leak are there to look at. Release builds compile TRACE out.
    if cfg!(debug_assertions) {
        assert!(
            logs.contains("signing request"),
            "no TRACE line of the SDK's"
        );
    }
    // Every EKS call carried the session token, which EKS requires with temporary
    // credentials, such as the function role's on Lambda.
    let calls = h.standin.eks_calls();
    assert!(!calls.is_empty());
    for call in &calls {
        assert_eq!(
            call.security_token.as_deref(),
            Some(SESSION_TOKEN),
            "{call:?}"
        );
    }
    for secret in [SECRET_ACCESS_KEY, SESSION_TOKEN] {
        let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(secret)).collect();
        assert!(leaks.is_empty(), "{secret} leaked:\n{}", leaks.join("\n"));
    }
    // Lambda's JSON log format: every line is a JSON object with a level, and an RFC 3339
    // timestamp, without which Lambda files the line as INFO whatever its level.
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let json: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(json["level"].is_string(), "no level: {line}");
        let timestamp = json["timestamp"].as_str().unwrap_or_default();
        assert!(is_rfc3339_utc(timestamp), "no RFC 3339 timestamp: {line}");
    }
}

/// `2026-12-07T12:34:56Z`, with or without a fraction of a second.
fn is_rfc3339_utc(text: &str) -> bool {
    let digits = |range: std::ops::Range<usize>| {
        text.get(range)
            .is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit()))
    };
    let at = |i: usize, c: u8| text.as_bytes().get(i) == Some(&c);
    let whole = digits(0..4)
        && at(4, b'-')
        && digits(5..7)
        && at(7, b'-')
        && digits(8..10)
        && at(10, b'T')
        && digits(11..13)
        && at(13, b':')
        && digits(14..16)
        && at(16, b':')
        && digits(17..19);
    // Then `Z`, or a fraction of a second and `Z`.
    let fraction = match text.get(19..).and_then(|rest| rest.strip_suffix('Z')) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('.')
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    };
    whole && fraction
}

#[tokio::test]
async fn logs_say_what_was_decided_for_which_event() {
    let h = Harness::start().await;
    let event = h.event("Create", properties(), None);
    h.send(&event).await;
    let logs = h.logs();
    let request_id = event["RequestId"].as_str().unwrap();
    let decided = logs
        .lines()
        .find(|l| l.contains("decided"))
        .unwrap_or_else(|| panic!("{logs}"));
    assert!(
        decided.contains(request_id)
            && decided.contains("PodIdentity")
            && decided.contains("Create"),
        "{decided}"
    );
}

#[tokio::test]
async fn a_bucket_that_fails_for_a_while_still_gets_the_response() {
    let h = Harness::start().await;
    h.standin.inject(
        FaultTarget::Bucket,
        Fault::status(500, "InternalError", "We encountered an internal error."),
        2,
    );
    h.standin.inject(FaultTarget::Bucket, Fault::Reset, 1);
    let response = h.send(&h.event("Create", properties(), None)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(h.standin.associations().len(), 1);
}

/// The real CloudFormation events and responses of `tests/fixtures/cloudformation-events`
/// (name, content), copied from the project's shared fixtures so that a clone tests on its
/// own; with the shared folder beside the checkout, also each file there that the copy lacks
/// or holds differently, so that a fixture added there is tested before it is copied.
fn fixture_events() -> Vec<(String, Vec<u8>)> {
    let read = |dir: &str| -> Vec<(String, Vec<u8>)> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut files: Vec<_> = entries
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_file())
            .filter(|path| path.file_name().is_some_and(|name| name != "SOURCES.txt"))
            .map(|path| {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&path).unwrap())
            })
            .collect();
        files.sort();
        files
    };
    let root = env!("CARGO_MANIFEST_DIR");
    let mut fixtures = read(&format!("{root}/tests/fixtures/cloudformation-events"));
    assert!(
        fixtures.len() >= 25,
        "the copied fixtures: {}",
        fixtures.len()
    );
    for shared in read(&format!("{root}/../shared/fixtures/cloudformation-events")) {
        if !fixtures.contains(&shared) {
            fixtures.push(shared);
        }
    }
    fixtures
}

/// Every real event from the fixtures gets exactly one answer through the binary.
#[tokio::test]
async fn every_fixture_event_is_answered() {
    let h = Harness::start().await;
    let mut answered = 0;
    for (name, bytes) in fixture_events() {
        let Ok(mut event) = serde_json::from_slice::<Value>(&bytes) else {
            continue; // Not JSON: covered by the parser's own tests.
        };
        let key = format!("fixture-{answered}");
        event["ResponseURL"] = json!(h.standin.response_url(&key));
        // Some fixtures name another function as ServiceToken (provider mode); here every
        // one is sent as if CloudFormation invoked us directly.
        event["ServiceToken"] = json!(Standin::FUNCTION_ARN);
        let id = h.standin.invoke(event.clone(), Duration::from_secs(30));
        let outcome = h
            .standin
            .wait_for_outcome(&id, Duration::from_secs(40))
            .await;
        assert!(
            matches!(outcome, Some(Outcome::Response(_))),
            "{name}: {outcome:?}"
        );
        let puts = h.standin.responses(&key);
        assert_eq!(puts.len(), 1, "{name}");
        let response: Value = serde_json::from_slice(&puts[0].body).unwrap();
        assert!(
            !response["PhysicalResourceId"]
                .as_str()
                .unwrap_or("")
                .is_empty(),
            "{name}: {response}"
        );
        // Their properties are not ours: Create and Update fail with a reason, Delete of an id
        // we never issued succeeds.
        match event["RequestType"].as_str() {
            Some("Delete") => assert_eq!(response["Status"], "SUCCESS", "{name}: {response}"),
            _ => assert_eq!(response["Status"], "FAILED", "{name}: {response}"),
        }
        answered += 1;
    }
    assert!(answered >= 20, "only {answered} fixtures");
    assert!(h.eks_operations().is_empty());
}

#[test]
fn every_fixture_parses_without_panicking() {
    use cfn_eks_pod_identity::event::{Incoming, Request, RequestType};
    let mut events = 0;
    for (name, bytes) in fixture_events() {
        let request = Request::from_incoming(Incoming::from_slice(&bytes));
        if name.contains("NOT-STRICT-JSON") {
            assert!(request.malformed.is_some(), "{name}");
            assert!(
                request.request_id.is_some(),
                "{name}: the fields before the error are salvaged"
            );
        }
        let is_event =
            !name.contains("response") && !name.contains("NOT-STRICT") && name.ends_with(".json");
        if is_event {
            events += 1;
            assert!(
                !matches!(request.request_type, RequestType::Unknown(_)),
                "{name}"
            );
            assert!(request.response_url.is_some(), "{name}");
            assert!(request.malformed.is_none(), "{name}");
        }
    }
    assert!(events >= 10, "{events}");
}

#[test]
fn the_release_profile_keeps_unwinding() {
    // A panic must unwind to the supervisor to become a FAILED response; `panic = "abort"`
    // would end the process with the stack still waiting.
    let manifest: String =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let release = manifest
        .split("[profile.release]")
        .nth(1)
        .expect("a release profile");
    let release = release.split("\n[").next().unwrap_or_default();
    assert!(release.contains("panic = \"unwind\""), "{release}");
}

#[tokio::test]
async fn an_event_without_the_ids_cloudformation_always_sends_changes_nothing() {
    let h = Harness::start().await;
    let arn = h.create(properties()).await;
    h.standin.clear_eks_calls();
    for (request_type, id, field) in [
        ("Create", None, "StackId"),
        ("Delete", Some(arn.as_str()), "LogicalResourceId"),
        ("Update", Some(arn.as_str()), "RequestId"),
    ] {
        let mut event = h.event(request_type, properties(), id);
        let key = event["RequestId"].as_str().unwrap().to_owned();
        event.as_object_mut().unwrap().remove(field);
        let outcome = h.invoke(&event, Duration::from_secs(30)).await;
        assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
        let puts = h.standin.responses(&key);
        assert_eq!(puts.len(), 1, "{request_type}");
        let response: Value = serde_json::from_slice(&puts[0].body).unwrap();
        assert_failed(&response, &[field, "nothing was changed"]);
    }
    assert!(h.eks_operations().is_empty(), "{:?}", h.eks_operations());
    assert_eq!(h.association_arns(), vec![arn]);
}
