//! Nothing leaks, and nothing that is not ours is touched: the ownership tags decide what a
//! Delete may remove, whatever id it carries, and what a conflicting Create may adopt.

mod common;

use common::{assert_attributes, assert_failed, properties, properties_with, throttled, Harness};
use serde_json::{json, Value};
use standin::{AssociationSpec, Fault, FaultTarget};
use std::time::Duration;

fn foreign(h: &Harness) -> standin::Association {
    foreign_in(h, "payments")
}

/// An association made outside the function, at the `api` service account of `namespace`.
fn foreign_in(h: &Harness, namespace: &str) -> standin::Association {
    let spec = AssociationSpec::new(
        "us-east-1",
        "prod",
        namespace,
        "api",
        "arn:aws:iam::111122223333:role/other",
    );
    h.standin
        .insert_association(spec)
        .expect("insert a foreign association")
}

/// Creates the association of `properties()`, then moves it to another namespace (a
/// replacement): returns the original's ARN, the moved properties and the new ARN.
async fn create_then_move(h: &Harness) -> (String, Value, String) {
    let original = h.create(properties()).await;
    let moved = properties_with(json!({"Namespace": "billing"}));
    let replaced = h
        .send(&h.update(&original, properties(), moved.clone()))
        .await;
    assert_eq!(replaced["Status"], "SUCCESS", "{replaced}");
    let new_arn = replaced["PhysicalResourceId"].as_str().unwrap().to_owned();
    (original, moved, new_arn)
}

#[tokio::test]
async fn delete_with_an_invented_id_removes_the_create_cloudformation_gave_up_on() {
    let h = Harness::start().await;
    // The Create succeeded on EKS, but CloudFormation never got the answer.
    h.standin.inject(
        FaultTarget::Bucket,
        Fault::status(500, "InternalError", "down"),
        1000,
    );
    let create = h.event("Create", properties(), None);
    let _ = h.invoke(&create, Duration::from_secs(3)).await;
    assert!(h.responses(&create).is_empty());
    assert_eq!(h.standin.associations().len(), 1);
    h.standin.clear_faults();
    // Its rollback deletes with an id it invented, and waits out the time that Create
    // could still be running (its own limit: the test's is short). Its first removal fails;
    // a later look finds the association still there, and removes it.
    let faults = h.standin.injected_fault_count();
    h.standin.inject(
        FaultTarget::eks("DeletePodIdentityAssociation"),
        Fault::status(400, "InvalidRequestException", "not now"),
        1,
    );
    let delete = h.event("Delete", properties(), Some("payments-PodIdentity-1XYZ"));
    let response = h.send_within(&delete, Duration::from_secs(10)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(h.standin.injected_fault_count(), faults + 1);
    assert!(
        h.standin.associations().is_empty(),
        "the leaked association is removed"
    );
}

/// A Delete that could not remove what it owns says so: a SUCCESS would have CloudFormation
/// forget an association that is still there.
#[tokio::test]
async fn a_delete_eks_keeps_refusing_fails_and_leaves_the_association_named() {
    let h = Harness::start().await;
    let arn = h.create(properties()).await;
    h.standin.inject(
        FaultTarget::eks("DeletePodIdentityAssociation"),
        Fault::status(403, "AccessDeniedException", "not allowed to delete"),
        1000,
    );
    let by_arn = h.send(&h.event("Delete", properties(), Some(&arn))).await;
    assert_failed(
        &by_arn,
        &["DeletePodIdentityAssociation", "not allowed to delete"],
    );
    assert_eq!(by_arn["PhysicalResourceId"], arn.as_str());
    assert_eq!(h.association_arns(), vec![arn.clone()]);

    // The same through an invented id: every look finds it, no removal gets through.
    let invented = "payments-PodIdentity-1XYZ";
    let delete = h.event("Delete", properties(), Some(invented));
    let response = h.send_within(&delete, Duration::from_secs(10)).await;
    assert_failed(&response, &["DeletePodIdentityAssociation"]);
    assert_eq!(response["PhysicalResourceId"], invented);
    assert_eq!(h.association_arns(), vec![arn]);
}

/// Lambda runs an event again when its invocation failed, even when its answer was stored
/// and only the reply lost, and CloudFormation has moved on. A Delete with an invented id run
/// again after the resource was deployed anew must not take that deployment's association for
/// the abandoned Create's; what is as old as the abandoned Create's, it still removes.
#[tokio::test]
async fn an_invented_id_delete_run_again_spares_what_a_later_deployment_made() {
    let h = Harness::start().await;
    let invented = "payments-PodIdentity-1XYZ";
    // The next deployment's Create, after the rollback's Delete had answered.
    let redeployed = h.create(properties()).await;
    // Lambda's retry of that Delete, over a minute after CloudFormation sent it.
    let run_again = |h: &Harness| {
        let delete = h.event("Delete", properties(), Some(invented));
        h.sent_ago(delete, Duration::from_secs(70))
    };
    let again = run_again(&h);
    h.standin.clear_eks_calls();
    let response = h.send_within(&again, Duration::from_secs(10)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(
        h.association_arns(),
        std::slice::from_ref(&redeployed),
        "the later deployment's association is left; logs:\n{}",
        h.logs()
    );
    // Past the first run's looks, nothing the abandoned Create could make is still to come:
    // one look is enough, rather than the first run's whole wait.
    let looks = h.eks_operations();
    assert_eq!(
        looks
            .iter()
            .filter(|op| *op == "ListPodIdentityAssociations")
            .count(),
        1,
        "{looks:?}"
    );
    // One made before the first run's looks would have ended is the abandoned Create's, and
    // goes: made 64 s before this run, after the event was sent (70 s before), and before
    // that plus the 10 s limit (and the clocks' 5 s).
    let again = run_again(&h);
    let now = std::time::UNIX_EPOCH.elapsed().unwrap().as_secs_f64();
    let age = now - h.standin.associations()[0].created_at;
    assert!(h
        .standin
        .backdate_association(&redeployed, Duration::from_secs_f64(64.0 - age)));
    let response = h.send_within(&again, Duration::from_secs(10)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert!(h.association_arns().is_empty(), "{}", h.logs());
}

/// A Delete with an invented id that Lambda's queue held back (throttling) is still its
/// event's first run, though it comes over a minute after it was sent: too soon for a retry
/// of a Delete that looks until its time is up. What the Create, held back alike, made since,
/// it removes.
#[tokio::test]
async fn an_invented_id_delete_held_in_lambdas_queue_removes_what_the_create_made_since() {
    let h = Harness::start().await;
    let made_since = h.create(properties()).await;
    let delete = h.event("Delete", properties(), Some("payments-PodIdentity-1XYZ"));
    let held = h.sent_ago(delete, Duration::from_secs(55));
    let response = h.send_within(&held, Duration::from_secs(10)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert!(
        h.association_arns().is_empty(),
        "{made_since} is left; logs:\n{}",
        h.logs()
    );
}

#[tokio::test]
async fn a_delete_sent_while_its_create_still_runs_removes_what_that_create_then_makes() {
    let mut h = Harness::start().await;
    h.add_instance();
    // The role the stack has just made is not visible to EKS yet: the Create waits it out.
    h.standin.inject(
        FaultTarget::eks("CreatePodIdentityAssociation"),
        Fault::status(
            400,
            "InvalidParameterException",
            "Role provided in the request does not exist",
        ),
        1000,
    );
    let create = h.event("Create", properties(), None);
    // Time enough for a cold start of each process on a loaded machine; the test takes
    // only as long as the events do.
    let timeout = Duration::from_secs(30);
    let creating = h.standin.invoke(create.clone(), timeout);
    let answered = |operation| h.standin.wait_for_eks_call(operation, timeout);
    assert!(
        answered("CreatePodIdentityAssociation").await,
        "the Create is refused"
    );
    // Meanwhile another resource fails: CloudFormation gives up on the Create and sends the
    // Delete at once, with an id it invents.
    let delete = h.event("Delete", properties(), Some("payments-PodIdentity-1XYZ"));
    let deleting = h.standin.invoke(delete.clone(), timeout);
    assert!(
        answered("ListPodIdentityAssociations").await,
        "the Delete looks"
    );
    assert!(h.standin.associations().is_empty());
    // Then IAM catches up, and the Create goes through, answering a stack that has moved on.
    h.standin.clear_faults();
    for id in [creating, deleting] {
        h.ended(&id, timeout).await;
    }
    assert_eq!(h.responses(&create)[0]["Status"], "SUCCESS");
    let response = &h.responses(&delete)[0];
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert!(
        h.standin.associations().is_empty(),
        "the Delete waited for the Create and removed what it made; logs:\n{}",
        h.logs()
    );
}

#[tokio::test]
async fn a_delete_with_an_invented_id_keeps_looking_after_it_has_removed_one() {
    let mut h = Harness::start().await;
    h.add_instance();
    // The Create's first attempt makes the association, but its answer is lost, and EKS
    // throttles every attempt after it: the Create does not know, and tries again.
    let create_calls = || FaultTarget::eks("CreatePodIdentityAssociation");
    h.standin
        .inject(create_calls(), Fault::ResetAfterHandling, 1);
    h.standin.inject(create_calls(), throttled(), 1000);
    let create = h.event("Create", properties(), None);
    // The same time limit for both, as one function has; long enough that the Create still
    // runs again after the throttling ends, however slowly the Delete got there.
    let timeout = Duration::from_secs(40);
    let creating = h.standin.invoke(create.clone(), timeout);
    assert!(
        h.wait_for_calls("CreatePodIdentityAssociation", 1, timeout)
            .await
    );
    assert_eq!(h.standin.associations().len(), 1);
    // CloudFormation gives up on the Create; the Delete, with an invented id, removes what
    // the Create made.
    let delete = h.event("Delete", properties(), Some("payments-PodIdentity-1XYZ"));
    let deleting = h.standin.invoke(delete.clone(), timeout);
    assert!(
        h.wait_for_calls("DeletePodIdentityAssociation", 1, timeout)
            .await
    );
    assert!(h.standin.associations().is_empty());
    // The throttling ends, and the Create's next attempt, with the same token, makes
    // another association, as EKS may for a token whose association is gone.
    h.standin.clear_faults();
    for id in [creating, deleting] {
        h.ended(&id, timeout).await;
    }
    assert_eq!(h.responses(&create)[0]["Status"], "SUCCESS");
    assert_eq!(h.responses(&delete)[0]["Status"], "SUCCESS");
    assert!(
        h.standin.associations().is_empty(),
        "the Delete removed the second association too; logs:\n{}",
        h.logs()
    );
}

#[tokio::test]
async fn delete_never_removes_an_association_the_stack_does_not_own() {
    let h = Harness::start().await;
    let other = foreign(&h);
    // By invented id (looked up by service account) or by its very ARN: never.
    for id in ["payments-PodIdentity-1XYZ", other.association_arn.as_str()] {
        let delete = h.event("Delete", properties(), Some(id));
        let response = h.send_within(&delete, Duration::from_secs(10)).await;
        assert_eq!(response["Status"], "SUCCESS", "{response}");
    }
    assert_eq!(h.standin.associations().len(), 1);
    assert!(!h
        .eks_operations()
        .contains(&"DeletePodIdentityAssociation".to_owned()));

    // Another logical resource of the same stack does not own it either.
    h.standin.clear_eks_calls();
    let mut create = h.event(
        "Create",
        properties_with(json!({"ServiceAccount": "worker"})),
        None,
    );
    create["LogicalResourceId"] = json!("Worker");
    let arn = h.send(&create).await["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = h.send(&h.event("Delete", properties(), Some(&arn))).await;
    assert_eq!(response["Status"], "SUCCESS");
    assert_eq!(h.standin.associations().len(), 2);
}

#[tokio::test]
async fn a_replacement_whose_answer_was_lost_is_removed_before_the_update_answers() {
    let h = Harness::start().await;
    let original = h.create(properties()).await;
    let moved = properties_with(json!({"Namespace": "billing"}));
    // EKS creates the new association, but neither its answer nor a retry's gets through.
    h.lose_create_answers();
    let failed = h
        .send(&h.update(&original, properties(), moved.clone()))
        .await;
    assert_failed(
        &failed,
        &["CreatePodIdentityAssociation", "It was cleaned up"],
    );
    assert_eq!(failed["PhysicalResourceId"], original.as_str());
    // The update removed what it made there itself, before it answered.
    assert_eq!(h.association_arns(), vec![original.clone()]);
    h.standin.clear_faults();
    h.standin.clear_eks_calls();
    let rollback = h.send(&h.update(&original, moved, properties())).await;
    assert_eq!(rollback["Status"], "SUCCESS", "{rollback}");
    assert_eq!(rollback["PhysicalResourceId"], original.as_str());
    // The rollback returns to the original, and looks once at the new service account.
    assert_eq!(
        h.eks_operations(),
        vec![
            "DescribePodIdentityAssociation",
            "ListPodIdentityAssociations"
        ]
    );
    assert_eq!(h.association_arns(), vec![original]);
}

/// When the clean-up after a failure fails too, the Reason says so, and what may be left:
/// the user is not told the stack is clean when it is not.
#[tokio::test]
async fn a_failed_replacement_whose_clean_up_fails_too_says_what_may_be_left() {
    let h = Harness::start().await;
    let original = h.create(properties()).await;
    let moved = properties_with(json!({"Namespace": "billing"}));
    h.lose_create_answers();
    h.standin.inject(
        FaultTarget::eks("DeletePodIdentityAssociation"),
        Fault::status(403, "AccessDeniedException", "not allowed to delete"),
        1000,
    );
    let failed = h.send(&h.update(&original, properties(), moved)).await;
    assert_failed(
        &failed,
        &[
            "CreatePodIdentityAssociation",
            "failed too",
            "DeletePodIdentityAssociation",
            "may be left on EKS",
        ],
    );
    let reason = failed["Reason"].as_str().unwrap_or_default();
    assert!(!reason.contains("It was cleaned up"), "{reason}");
    assert_eq!(failed["PhysicalResourceId"], original.as_str());
    assert_eq!(
        h.standin.associations().len(),
        2,
        "the replacement is still there"
    );
}

#[tokio::test]
async fn the_rollback_of_a_cancelled_replacement_removes_what_it_made() {
    let h = Harness::start().await;
    // Another resource failed while this replacement ran: CloudFormation cancelled it, and
    // ignores its answer, so it never learns the new association's id.
    let (original, moved, _) = create_then_move(&h).await;
    assert_eq!(h.standin.associations().len(), 2);
    // Its rollback: the id CloudFormation knows, the properties swapped.
    let rollback = h.send(&h.update(&original, moved, properties())).await;
    assert_eq!(rollback["Status"], "SUCCESS", "{rollback}");
    assert_eq!(rollback["PhysicalResourceId"], original.as_str());
    assert_eq!(
        h.association_arns(),
        vec![original],
        "nothing CloudFormation does not know of is left"
    );
}

/// A rollback Update run again (Lambda's retry, or its queue's duplicate) after the next
/// deployment's replacement reported its association must not take that association for the
/// cancelled replacement's; one made before the rollback was sent, it still removes.
#[tokio::test]
async fn a_rollback_run_again_spares_what_a_later_deployment_made() {
    let h = Harness::start().await;
    // The next deployment's replacement, reported (CloudFormation has not yet deleted the
    // original in its clean-up).
    let (original, moved, redeployed) = create_then_move(&h).await;
    let run_again = |h: &Harness| {
        let rollback = h.update(&original, moved.clone(), properties());
        h.sent_ago(rollback, Duration::from_secs(70))
    };
    let again = run_again(&h);
    let response = h.send(&again).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(
        h.association_arns(),
        vec![original.clone(), redeployed.clone()],
        "the later deployment's association is left; logs:\n{}",
        h.logs()
    );
    // Made after the original, and before the rollback was sent: the cancelled
    // replacement's, and removed.
    let backdate = |arn: &str, secs| {
        h.standin
            .backdate_association(arn, Duration::from_secs(secs))
    };
    assert!(backdate(&original, 100) && backdate(&redeployed, 80));
    let response = h.send(&run_again(&h)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(h.association_arns(), vec![original], "{}", h.logs());
}

#[tokio::test]
async fn a_throttled_replacement_is_not_run_again_after_its_rollback_has_looked() {
    let mut h = Harness::start().await;
    h.add_instance();
    let original = h.create(properties()).await;
    let moved = properties_with(json!({"Namespace": "billing"}));
    h.standin.clear_eks_calls();
    // EKS throttles the replacement's Create past the SDK's five attempts.
    h.standin.inject(
        FaultTarget::eks("CreatePodIdentityAssociation"),
        throttled(),
        1000,
    );
    let update = h.update(&original, properties(), moved.clone());
    let timeout = Duration::from_secs(60);
    let updating = h.standin.invoke(update.clone(), timeout);
    assert!(
        h.wait_for_calls("CreatePodIdentityAssociation", 5, timeout)
            .await,
        "the replacement's first run is throttled to its end"
    );
    // Another resource has failed: CloudFormation cancelled the update, and its rollback
    // looks at the new service account once, finding nothing there.
    let rollback = h.update(&original, moved, properties());
    let rolling_back = h.standin.invoke(rollback.clone(), timeout);
    h.ended(&rolling_back, timeout).await;
    assert_eq!(h.responses(&rollback)[0]["Status"], "SUCCESS");
    // The throttling ends; a Create of the replacement now would be left behind.
    h.standin.clear_faults();
    h.ended(&updating, timeout).await;
    assert_failed(&h.responses(&update)[0], &["ThrottlingException"]);
    assert_eq!(h.association_arns(), vec![original], "logs:\n{}", h.logs());
}

#[tokio::test]
async fn that_rollback_leaves_other_owners_alone_and_never_fails_for_its_look() {
    let h = Harness::start().await;
    let original = h.create(properties()).await;
    let moved = properties_with(json!({"Namespace": "billing"}));
    let other = foreign_in(&h, "billing");
    let rollback = h
        .send(&h.update(&original, moved.clone(), properties()))
        .await;
    assert_eq!(rollback["Status"], "SUCCESS", "{rollback}");
    assert!(h.association_arns().contains(&other.association_arn));
    // A look that fails is logged, and the rollback still succeeds.
    h.standin.inject(
        FaultTarget::eks("ListPodIdentityAssociations"),
        Fault::status(403, "AccessDeniedException", "not allowed"),
        1000,
    );
    let rollback = h.send(&h.update(&original, moved, properties())).await;
    assert_eq!(rollback["Status"], "SUCCESS", "{rollback}");
    assert!(h.standin.injected_fault_count() >= 1);
    assert!(h.logs().contains("passed over"), "{}", h.logs());
    assert_eq!(h.standin.associations().len(), 2);
}

#[tokio::test]
async fn a_failed_rollback_never_removes_the_association_it_returns_to() {
    let h = Harness::start().await;
    let (original, moved, new_arn) = create_then_move(&h).await;
    // The rollback finds the original, which this resource owns, and must also change its
    // tags; EKS refuses that.
    h.standin.clear_eks_calls();
    h.standin.inject(
        FaultTarget::eks("TagResource"),
        Fault::status(400, "InvalidParameterException", "tags refused"),
        1000,
    );
    let back = properties_with(json!({"Tags": [{"Key": "team", "Value": "billing"}]}));
    let failed = h
        .send(&h.update(&new_arn, moved.clone(), back.clone()))
        .await;
    assert_failed(&failed, &["TagResource", "tags refused"]);
    assert!(!h
        .eks_operations()
        .contains(&"CreatePodIdentityAssociation".to_owned()));
    // Both stay: the original was there before this update, and is not its to remove.
    let mut left = h.association_arns();
    left.sort();
    let mut expected = vec![original, new_arn.clone()];
    expected.sort();
    assert_eq!(left, expected);
    // Nor is it its rollback's, though the original is owned and at the service account the
    // failed update was for: it is older than the association CloudFormation knows, so the
    // update found it there rather than made it (as when a Retain policy kept it).
    h.standin.clear_faults();
    let rollback = h.send(&h.update(&new_arn, back, moved)).await;
    assert_eq!(rollback["Status"], "SUCCESS", "{rollback}");
    assert_eq!(rollback["PhysicalResourceId"], new_arn.as_str());
    let mut left = h.association_arns();
    left.sort();
    assert_eq!(left, expected);
}

#[tokio::test]
async fn create_conflicting_with_a_foreign_association_fails_at_once() {
    let h = Harness::start().await;
    let other = foreign(&h);
    let response = h.send(&h.event("Create", properties(), None)).await;
    assert_failed(
        &response,
        &[
            &other.association_id,
            "does not own",
            "delete the existing one",
        ],
    );
    let creates = h
        .eks_operations()
        .iter()
        .filter(|op| *op == "CreatePodIdentityAssociation")
        .count();
    assert_eq!(
        creates, 1,
        "no waiting and retrying for an association someone else owns"
    );
    assert!(!response["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .contains(&other.association_id));
    // Its Delete does not touch the foreign association.
    let id = response["PhysicalResourceId"].as_str().unwrap();
    h.send(&h.event("Delete", properties(), Some(id))).await;
    assert_eq!(h.standin.associations().len(), 1);
}

#[tokio::test]
async fn a_replacement_onto_a_foreign_association_fails_and_leaves_it_alone() {
    let h = Harness::start().await;
    let original = h.create(properties()).await;
    let other = foreign_in(&h, "billing");
    let before = h.eks_operations().len();
    let moved = properties_with(json!({"Namespace": "billing"}));
    let response = h.send(&h.update(&original, properties(), moved)).await;
    assert_failed(&response, &[&other.association_id, "does not own"]);
    // Nothing replaced: CloudFormation's rollback then returns to the original.
    assert_eq!(response["PhysicalResourceId"], original.as_str());
    let calls = &h.eks_operations()[before..];
    for changing in [
        "CreatePodIdentityAssociation",
        "UpdatePodIdentityAssociation",
        "DeletePodIdentityAssociation",
        "TagResource",
        "UntagResource",
    ] {
        assert!(
            !calls.iter().any(|c| c == changing),
            "{changing} in {calls:?}"
        );
    }
    let after = h
        .standin
        .associations()
        .into_iter()
        .find(|a| a.association_arn == other.association_arn)
        .expect("the foreign association is still there");
    assert_eq!(after.tags, other.tags, "not adopted");
    assert_eq!(after.role_arn, other.role_arn);
    assert!(h.association_arns().contains(&original));
}

#[tokio::test]
async fn create_right_after_a_delete_waits_out_the_conflict() {
    let h = Harness::start().await;
    h.standin.inject(
        FaultTarget::any_eks(),
        Fault::ConflictAfterDelete(Duration::from_secs(3)),
        1000,
    );
    let arn = h.create(properties()).await;
    h.send(&h.event("Delete", properties(), Some(&arn))).await;
    // The same service account again: EKS says 409 for a few seconds.
    let response = h.send(&h.event("Create", properties(), None)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert!(
        h.standin.injected_fault_count() >= 1,
        "the conflict was injected"
    );
    assert_eq!(h.standin.associations().len(), 1);
}

#[tokio::test]
async fn rollback_of_a_replacement_returns_to_the_original_association() {
    let h = Harness::start().await;
    let (original, moved, new_arn) = create_then_move(&h).await;
    // Another resource failed: CloudFormation rolls back with the properties swapped.
    let rollback = h
        .send(&h.update(&new_arn, moved.clone(), properties()))
        .await;
    assert_attributes(&h, &rollback);
    assert_eq!(
        rollback["PhysicalResourceId"],
        original.as_str(),
        "the original is adopted, not duplicated"
    );
    // Rollback cleanup deletes the replacement.
    h.send(&h.event("Delete", moved, Some(&new_arn))).await;
    let left = h.association_arns();
    assert_eq!(left, vec![original.clone()]);
    h.send(&h.event("Delete", properties(), Some(&original)))
        .await;
    assert!(h.standin.associations().is_empty());
}

/// Sends a Create to a function with 4 s, which EKS holds until the guard answers FAILED:
/// returns when it began, and the placeholder id it answered with. (4 s: the guard comes
/// 3.2 s in, time for a slow start and a retry's pause of up to 0.5 s before the request
/// EKS holds, and still well before a 5 s hold ends.)
async fn create_cut_off_by_the_guard(h: &Harness) -> (tokio::time::Instant, String) {
    let began = tokio::time::Instant::now();
    let create = h.event("Create", properties(), None);
    let _ = h.invoke(&create, Duration::from_secs(4)).await;
    let response = h.responses(&create).pop().expect("answered");
    assert_failed(&response, &["Timed out"]);
    let id = response["PhysicalResourceId"].as_str().expect("an id");
    (began, id.to_owned())
}

#[tokio::test]
async fn a_create_stopped_by_the_deadline_leaves_nothing_after_its_delete() {
    let h = Harness::start().await;
    // EKS makes the association but its answer is lost, and holds the SDK's retry (the same
    // token) past the guard, which answers FAILED with a placeholder id.
    let create_call = || FaultTarget::eks("CreatePodIdentityAssociation");
    let held = Duration::from_secs(5);
    h.standin
        .inject(create_call(), Fault::ResetAfterHandling, 1);
    h.standin.inject(create_call(), Fault::Delay(held), 100);
    let (began, id) = create_cut_off_by_the_guard(&h).await;
    assert_eq!(h.standin.associations().len(), 1, "the Create took effect");
    // The stack's Delete of that id looks the service account up, and removes what it finds;
    // then the held retry is carried out, and makes another (EKS forgets a token whose
    // association is gone), which the Delete's later looks remove.
    let before = h.eks_operations().len();
    let delete = h.event("Delete", properties(), Some(&id));
    h.send_within(&delete, Duration::from_secs(16)).await;
    assert_eq!(
        h.eks_operations()[before..].first().map(String::as_str),
        Some("ListPodIdentityAssociations")
    );
    tokio::time::sleep_until(began + held + Duration::from_secs(2)).await;
    let creates = h.statuses_of("CreatePodIdentityAssociation");
    assert_eq!(creates, [None, Some(200)], "made, then made again late");
    assert!(
        h.standin.associations().is_empty(),
        "{:?}\n{}",
        h.standin.associations(),
        h.logs()
    );
    let logs = h.logs();
    let removed = logs.matches(": deleted association=").count();
    assert_eq!(removed, 2, "the first, then the late one:\n{logs}");
}

#[tokio::test]
async fn a_create_eks_makes_after_its_rollback_began_is_removed_by_that_delete() {
    let h = Harness::start().await;
    // EKS holds the Create's request past the guard, which answers FAILED with a
    // placeholder id, and makes the association only after the rollback's Delete has begun:
    // answering withdraws no request EKS already has.
    let create_call = || FaultTarget::eks("CreatePodIdentityAssociation");
    let held = Duration::from_secs(5);
    h.standin.inject(create_call(), Fault::Delay(held), 1);
    let (began, id) = create_cut_off_by_the_guard(&h).await;
    assert!(h.standin.associations().is_empty(), "not made yet");
    let delete = h.event("Delete", properties(), Some(&id));
    let response = h.send_within(&delete, Duration::from_secs(16)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    // However soon the Delete answered, EKS has made the association by now.
    tokio::time::sleep_until(began + held + Duration::from_secs(1)).await;
    let creates = h.statuses_of("CreatePodIdentityAssociation");
    assert_eq!(creates, [Some(200)], "EKS made it, late");
    assert!(
        h.standin.associations().is_empty(),
        "left behind: {:?}\n{}",
        h.standin.associations(),
        h.logs()
    );
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_removed_by_its_delete() {
    let h = Harness::start().await;
    // EKS creates the association, but neither its answer nor a retry's gets through.
    h.lose_create_answers();
    let failed = h.send(&h.event("Create", properties(), None)).await;
    assert_failed(&failed, &["CreatePodIdentityAssociation"]);
    assert_eq!(h.standin.associations().len(), 1);
    // The failed Create's id makes the rollback's Delete look, and it finds it.
    let id = failed["PhysicalResourceId"].as_str().unwrap();
    let delete = h.event("Delete", properties(), Some(id));
    let response = h.send_within(&delete, Duration::from_secs(8)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert!(h.standin.associations().is_empty());
}

#[tokio::test]
async fn a_create_refused_for_a_foreign_association_made_nothing() {
    let h = Harness::start().await;
    let other = foreign(&h);
    let failed = h.send(&h.event("Create", properties(), None)).await;
    assert_failed(&failed, &["already exists"]);
    // The service account is someone else's, so no attempt of this Create made one there.
    let failed_id = failed["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert!(failed_id.contains("nothing-created"), "{failed_id}");
    // With rollback disabled, the user deletes the other association and deploys again:
    // CloudFormation creates the resource anew, then deletes the failed one's id.
    assert!(h.standin.remove_association(&other).is_some());
    let arn = h.create(properties()).await;
    let before = h.eks_operations().len();
    let response = h
        .send(&h.event("Delete", properties(), Some(&failed_id)))
        .await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    // That Delete leaves the association the stack now has, where a look-up would find it
    // under this resource's tags and delete it.
    assert_eq!(h.eks_operations().len(), before, "{:?}", h.eks_operations());
    assert_eq!(h.association_arns(), vec![arn]);
}

#[tokio::test]
async fn the_delete_after_a_create_eks_refused_calls_nothing() {
    for (code, message) in [
        // The function's role may not touch this cluster (say, outside the template's
        // ClusterNamePattern).
        (
            "AccessDeniedException",
            "User is not authorized to perform: eks:CreatePodIdentityAssociation",
        ),
        // The Region property names a region the account has not enabled.
        (
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
    ] {
        let h = Harness::start().await;
        // EKS refuses every call, the look-up included.
        h.standin.inject(
            FaultTarget::any_eks(),
            Fault::status(403, code, message),
            1000,
        );
        let failed = h.send(&h.event("Create", properties(), None)).await;
        assert_failed(&failed, &[code]);
        let id = failed["PhysicalResourceId"].as_str().unwrap();
        // The rollback's Delete succeeds without calling EKS, where a look-up would be
        // refused too and leave the stack in ROLLBACK_FAILED.
        let before = h.eks_operations().len();
        let response = h.send(&h.event("Delete", properties(), Some(id))).await;
        assert_eq!(response["Status"], "SUCCESS", "{code}: {response}");
        assert_eq!(response["PhysicalResourceId"], id);
        assert_eq!(h.eks_operations().len(), before, "{:?}", h.eks_operations());
    }
}

/// A function whose EKS endpoint is a port that refuses connections: no attempt reaches EKS.
/// The port stays bound, without listening, for as long as the caller keeps the socket, so
/// that no other test's stand-in is given it meanwhile (as one freed at once could be).
async fn with_eks_unreachable() -> (Harness, tokio::net::TcpSocket) {
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind(([127, 0, 0, 1], 0).into()).unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    let h = Harness::start_with(&[("AWS_ENDPOINT_URL_EKS", &endpoint)]).await;
    (h, closed)
}

#[tokio::test]
async fn the_delete_after_a_create_that_never_reached_eks_calls_nothing() {
    // EKS cannot be reached at all, as for a Region that does not exist (its endpoint's
    // name does not resolve): here, a port that refuses connections.
    let (h, _closed) = with_eks_unreachable().await;
    let failed = h.send(&h.event("Create", properties(), None)).await;
    assert_failed(&failed, &["CreatePodIdentityAssociation"]);
    let id = failed["PhysicalResourceId"].as_str().unwrap();
    assert!(id.contains("nothing-created"), "{id}");
    // The rollback's Delete succeeds without trying EKS, which it could not reach either.
    // (Looking would succeed too here, after its whole wait: the log tells the two apart.)
    let response = h.send(&h.event("Delete", properties(), Some(id))).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let logs = h.logs();
    assert!(logs.contains("made nothing: nothing to delete"), "{logs}");
    assert!(!logs.contains("looking for an association"), "{logs}");
}

#[tokio::test]
async fn an_invented_id_delete_that_never_reaches_eks_does_not_stick_the_rollback() {
    // CloudFormation gave up on a Create for a Region with no endpoint before its FAILED
    // came: no look of the rollback's Delete reaches EKS either, and that Create made nothing.
    let (h, _closed) = with_eks_unreachable().await;
    let delete = h.event("Delete", properties(), Some("payments-PodIdentity-1XYZ"));
    let response = h.send(&delete).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert!(h.ended_before_the_deadline());
    assert!(h.logs().contains("no look got through"), "{}", h.logs());
}

#[tokio::test]
async fn a_rollback_whose_look_hangs_still_succeeds_in_time() {
    let h = Harness::start().await;
    let original = h.create(properties()).await;
    let moved = properties_with(json!({"Namespace": "billing"}));
    h.standin.inject(
        FaultTarget::eks("ListPodIdentityAssociations"),
        Fault::Delay(Duration::from_secs(60)),
        1000,
    );
    let rollback = h
        .send_within(
            &h.update(&original, moved, properties()),
            Duration::from_secs(12),
        )
        .await;
    assert_eq!(rollback["Status"], "SUCCESS", "{rollback}");
    assert!(h.ended_before_the_deadline());
    assert!(h.logs().contains("took too long"), "{}", h.logs());
}

#[tokio::test]
async fn a_look_up_reads_every_page_of_the_list() {
    let h = Harness::start().await;
    // Should EKS cut its pages before filtering them, the association can come after empty
    // pages in a cluster with many.
    for namespace in ["first", "second"] {
        foreign_in(&h, namespace);
    }
    let ours = h.create(properties()).await;
    h.standin.page_before_filtering(1);
    // A failed Create's placeholder: its Delete finds the association by looking it up.
    let placeholder = "cfn-eks-pod-identity-0123abcd-4567-89ef-0123-456789abcdef";
    let delete = h.event("Delete", properties(), Some(placeholder));
    let response = h.send_within(&delete, Duration::from_secs(8)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert!(
        !h.association_arns().contains(&ours),
        "found on the third page"
    );
    assert_eq!(h.standin.associations().len(), 2);
}
