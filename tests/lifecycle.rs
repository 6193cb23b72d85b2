//! Create, Update and Delete through the real binary: the CloudFormation rules of the
//! resource contract, one test each.

mod common;

use common::{assert_attributes, assert_failed, properties, properties_with, Harness, STACK_ID};
use serde_json::{json, Value};
use standin::{Fault, FaultTarget, Invocation, Outcome};
use std::time::Duration;

fn association(h: &Harness, arn: &str) -> Option<standin::Association> {
    h.standin
        .associations()
        .into_iter()
        .find(|a| a.association_arn == arn)
}

#[tokio::test]
async fn create_returns_the_arn_and_every_attribute() {
    let h = Harness::start().await;
    let response = h.send(&h.event("Create", properties(), None)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let arn = response["PhysicalResourceId"].as_str().unwrap();
    assert!(
        arn.starts_with("arn:aws:eks:us-east-1:111122223333:podidentityassociation/prod/a-"),
        "{arn}"
    );
    assert_eq!(response["Data"]["AssociationArn"], arn);
    assert_eq!(
        response["Data"]["AssociationId"],
        arn.rsplit('/').next().unwrap()
    );
    assert_eq!(
        response["Data"]["ExternalId"], "",
        "GetAtt ExternalId must not fail without a target role"
    );
    assert_eq!(response["LogicalResourceId"], "PodIdentity");
    assert_eq!(response["StackId"], STACK_ID);

    let created = association(&h, arn).expect("the association exists");
    assert_eq!(
        (created.namespace.as_str(), created.service_account.as_str()),
        ("payments", "api")
    );
    assert_eq!(
        created.tags.get("team").map(String::as_str),
        Some("payments")
    );
    assert_eq!(
        created
            .tags
            .get("cfn-eks-pod-identity/stack-id")
            .map(String::as_str),
        Some(STACK_ID)
    );
    assert_eq!(
        created
            .tags
            .get("cfn-eks-pod-identity/logical-id")
            .map(String::as_str),
        Some("PodIdentity")
    );
    assert_eq!(h.eks_operations(), vec!["CreatePodIdentityAssociation"]);
}

#[tokio::test]
async fn region_property_places_the_association() {
    let h = Harness::start().await;
    let arn = h
        .create(properties_with(json!({"Region": "eu-west-1"})))
        .await;
    assert!(arn.starts_with("arn:aws:eks:eu-west-1:"), "{arn}");
    assert_eq!(association(&h, &arn).unwrap().region, "eu-west-1");
    // Delete finds it from the ARN alone, in its own region.
    let response = h.send(&h.event("Delete", json!({}), Some(&arn))).await;
    assert_eq!(response["Status"], "SUCCESS");
    assert!(h.standin.associations().is_empty());
}

#[tokio::test]
async fn redelivered_create_makes_one_association() {
    let h = Harness::start().await;
    let event = h.event("Create", properties(), None);
    let first = h.invoke(&event, Duration::from_secs(30)).await;
    let second = h.invoke(&event, Duration::from_secs(30)).await;
    assert!(
        matches!(first, standin::Outcome::Response(_))
            && matches!(second, standin::Outcome::Response(_))
    );
    let responses = h.responses(&event);
    assert_eq!(responses.len(), 2, "one response per delivery");
    assert_eq!(responses[0]["Status"], "SUCCESS");
    assert_eq!(responses[1]["Status"], "SUCCESS", "{}", responses[1]);
    assert_eq!(
        responses[0]["PhysicalResourceId"],
        responses[1]["PhysicalResourceId"]
    );
    assert_eq!(h.standin.associations().len(), 1);
    // The redelivery's Create carries the same token, so EKS answers it with the first's
    // association: no conflict to look past, no look-up.
    assert_eq!(
        h.eks_operations(),
        [
            "CreatePodIdentityAssociation",
            "CreatePodIdentityAssociation"
        ]
    );
}

#[tokio::test]
async fn update_of_the_role_is_in_place() {
    let h = Harness::start().await;
    let arn = h.create(properties()).await;
    h.standin.clear_eks_calls();
    let new = properties_with(json!({"RoleArn": "arn:aws:iam::111122223333:role/payments-api-v2"}));
    let response = h.send(&h.update(&arn, properties(), new)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(response["PhysicalResourceId"], arn, "in place keeps the id");
    assert_eq!(
        association(&h, &arn).unwrap().role_arn,
        "arn:aws:iam::111122223333:role/payments-api-v2"
    );
    assert_eq!(
        h.eks_operations(),
        vec![
            "DescribePodIdentityAssociation",
            "UpdatePodIdentityAssociation"
        ]
    );
}

#[tokio::test]
async fn tag_only_update_uses_tag_calls_only() {
    let h = Harness::start().await;
    let arn = h.create(properties()).await;
    h.standin.clear_eks_calls();
    let new = properties_with(json!({"Tags": {"env": "prod"}}));
    let response = h.send(&h.update(&arn, properties(), new)).await;
    assert_attributes(&h, &response);
    assert_eq!(response["PhysicalResourceId"], arn);
    let tags = association(&h, &arn).unwrap().tags;
    assert_eq!(tags.get("env").map(String::as_str), Some("prod"));
    assert!(
        !tags.contains_key("team"),
        "a tag the template dropped is removed"
    );
    assert!(
        tags.contains_key("cfn-eks-pod-identity/stack-id"),
        "ownership tags stay"
    );
    // Describe first; the tag calls then go out together, in either order.
    let mut operations = h.eks_operations();
    assert_eq!(operations.remove(0), "DescribePodIdentityAssociation");
    operations.sort();
    assert_eq!(operations, vec!["TagResource", "UntagResource"]);
}

#[tokio::test]
async fn a_tag_key_swapped_at_the_tag_limit_is_removed_before_the_new_one_is_added() {
    let h = Harness::start().await;
    let tags = |keys: std::ops::Range<usize>| {
        json!(keys
            .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
            .collect::<Vec<_>>())
    };
    // 48 of the template's tags and the two ownership tags: EKS's limit of 50.
    let old = properties_with(json!({ "Tags": tags(0..48) }));
    let arn = h.create(old.clone()).await;
    // k0 goes, k48 comes. Were the two calls sent together, a slow UntagResource would let
    // TagResource make 51 tags, which EKS refuses.
    h.standin.inject(
        FaultTarget::eks("UntagResource"),
        Fault::Delay(Duration::from_millis(300)),
        1,
    );
    let new = properties_with(json!({ "Tags": tags(1..49) }));
    let response = h.send(&h.update(&arn, old, new)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let tags = association(&h, &arn).unwrap().tags;
    assert_eq!(tags.len(), 50);
    assert!(
        tags.contains_key("k48") && !tags.contains_key("k0"),
        "{tags:?}"
    );
}

#[tokio::test]
async fn update_without_changes_does_nothing() {
    let h = Harness::start().await;
    let arn = h.create(properties()).await;
    h.standin.clear_eks_calls();
    // CloudFormation sends Update when only, say, ServiceTimeout changed.
    let new = properties_with(json!({"ServiceTimeout": "600", "DisableSessionTags": "false"}));
    let response = h.send(&h.update(&arn, properties(), new)).await;
    assert_attributes(&h, &response);
    assert_eq!(response["PhysicalResourceId"], arn);
    assert_eq!(h.eks_operations(), vec!["DescribePodIdentityAssociation"]);
}

#[tokio::test]
async fn namespace_change_is_a_replacement() {
    let h = Harness::start().await;
    let old_arn = h.create(properties()).await;
    let new = properties_with(json!({"Namespace": "billing"}));
    let response = h.send(&h.update(&old_arn, properties(), new)).await;
    assert_attributes(&h, &response);
    let new_arn = response["PhysicalResourceId"].as_str().unwrap();
    assert_ne!(new_arn, old_arn, "a replacement returns a new id");
    assert_eq!(association(&h, new_arn).unwrap().namespace, "billing");
    assert!(
        association(&h, &old_arn).is_some(),
        "the old one stays until CloudFormation deletes it"
    );
    // CloudFormation's cleanup phase.
    let response = h
        .send(&h.event("Delete", properties(), Some(&old_arn)))
        .await;
    assert_eq!(response["Status"], "SUCCESS");
    assert_eq!(response["PhysicalResourceId"], old_arn.as_str());
    let left = h.association_arns();
    assert_eq!(left, vec![new_arn.to_owned()]);
}

#[tokio::test]
async fn cluster_and_region_changes_are_replacements() {
    let h = Harness::start().await;
    let arn = h.create(properties()).await;
    for change in [
        json!({"ClusterName": "staging"}),
        json!({"Region": "us-west-2"}),
        json!({"ServiceAccount": "worker"}),
    ] {
        let new = properties_with(change.clone());
        let response = h.send(&h.update(&arn, properties(), new)).await;
        assert_eq!(response["Status"], "SUCCESS", "{change}: {response}");
        assert_ne!(response["PhysicalResourceId"], arn, "{change}");
    }
    assert_eq!(h.standin.associations().len(), 4);
}

#[tokio::test]
async fn update_recreates_an_association_deleted_by_hand() {
    let h = Harness::start().await;
    let arn = h.create(properties()).await;
    let gone = h.send(&h.event("Delete", json!({}), Some(&arn))).await;
    assert_eq!(gone["Status"], "SUCCESS");
    let response = h.send(&h.update(&arn, properties(), properties())).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let new_arn = response["PhysicalResourceId"].as_str().unwrap();
    assert_ne!(new_arn, arn);
    assert!(association(&h, new_arn).is_some());
}

#[tokio::test]
async fn target_role_is_set_and_cleared_in_place() {
    let h = Harness::start().await;
    let arn = h.create(properties()).await;
    let with_target =
        properties_with(json!({"TargetRoleArn": "arn:aws:iam::444455556666:role/data"}));
    let response = h
        .send(&h.update(&arn, properties(), with_target.clone()))
        .await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let external_id = response["Data"]["ExternalId"].as_str().unwrap().to_owned();
    assert!(
        !external_id.is_empty(),
        "a target role comes with an ExternalId"
    );
    assert_eq!(
        association(&h, &arn).unwrap().external_id.as_deref(),
        Some(external_id.as_str())
    );

    // Removing the property clears the target on EKS.
    let response = h.send(&h.update(&arn, with_target, properties())).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(response["PhysicalResourceId"], arn);
    assert_eq!(response["Data"]["ExternalId"], "");
    let cleared = association(&h, &arn).unwrap();
    assert_eq!(cleared.target_role_arn, None);
    assert_eq!(cleared.external_id, None);
}

/// An in-place update sends only what changed: a target role left alone keeps its
/// ExternalId, which the target role's trust policy names.
#[tokio::test]
async fn an_in_place_update_leaves_the_other_settings_as_they_were() {
    let h = Harness::start().await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let old = properties_with(json!({
        "TargetRoleArn": "arn:aws:iam::444455556666:role/data",
        "DisableSessionTags": "true",
        "Policy": policy,
    }));
    let arn = h.create(old.clone()).await;
    let before = association(&h, &arn).unwrap();
    assert!(before.external_id.is_some());
    let mut new = old.clone();
    new["RoleArn"] = json!("arn:aws:iam::111122223333:role/payments-api-v2");
    let response = h.send(&h.update(&arn, old, new)).await;
    assert_attributes(&h, &response);
    assert_eq!(response["PhysicalResourceId"], arn);
    let after = association(&h, &arn).unwrap();
    assert_eq!(
        after.role_arn,
        "arn:aws:iam::111122223333:role/payments-api-v2"
    );
    assert_eq!(after.target_role_arn, before.target_role_arn);
    assert_eq!(after.external_id, before.external_id);
    assert!(after.disable_session_tags);
    assert_eq!(after.policy, before.policy);
    assert_eq!(after.tags, before.tags);
}

#[tokio::test]
async fn session_tags_and_policy_update_together() {
    let h = Harness::start().await;
    let arn = h.create(properties()).await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let new = properties_with(json!({"DisableSessionTags": "true", "Policy": policy}));
    let response = h.send(&h.update(&arn, properties(), new.clone())).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let updated = association(&h, &arn).unwrap();
    assert!(updated.disable_session_tags);
    let stored: Value = serde_json::from_str(updated.policy.as_deref().unwrap()).unwrap();
    assert_eq!(stored, serde_json::from_str::<Value>(policy).unwrap());
    // And back: both cleared in one call.
    let response = h.send(&h.update(&arn, new, properties())).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let reverted = association(&h, &arn).unwrap();
    assert!(!reverted.disable_session_tags);
    assert_eq!(reverted.policy, None);
}

/// Removing the policy while session tags stay disabled changes nothing else, yet EKS asks
/// every update to name the role, the target role or disableSessionTags.
#[tokio::test]
async fn a_policy_is_removed_on_its_own() {
    let h = Harness::start().await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let without = properties_with(json!({"DisableSessionTags": "true"}));
    let with = properties_with(json!({"DisableSessionTags": "true", "Policy": policy}));
    let arn = h.create(with.clone()).await;
    let response = h.send(&h.update(&arn, with, without)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let updated = association(&h, &arn).unwrap();
    assert_eq!(updated.policy, None);
    assert!(updated.disable_session_tags);
}

#[tokio::test]
async fn a_policy_that_repeats_a_key_is_never_sent_but_does_not_strand_its_association() {
    let h = Harness::start().await;
    // The second Version is the one serde_json keeps.
    let repeating = r#"{"Version":"2008-10-17","Version":"2012-10-17","Statement":[]}"#;
    let with = |policy: &str, team: &str| {
        properties_with(json!({
            "DisableSessionTags": "true",
            "Policy": policy,
            "Tags": [{"Key": "team", "Value": team}],
        }))
    };
    let response = h
        .send(&h.event("Create", with(repeating, "payments"), None))
        .await;
    assert_failed(&response, &["Policy: must not repeat a key", "\"Version\""]);
    assert_eq!(h.eks_operations(), Vec::<String>::new());
    // It made nothing, so its rollback's Delete needs no call.
    let id = response["PhysicalResourceId"].as_str().unwrap_or_default();
    assert!(
        id.starts_with("cfn-eks-pod-identity-nothing-created-"),
        "{id}"
    );
    let delete = h.event("Delete", with(repeating, "payments"), Some(id));
    assert_eq!(h.send(&delete).await["Status"], "SUCCESS");
    assert_eq!(h.eks_operations(), Vec::<String>::new());

    // An association an earlier version made from that template, sending what it read.
    let read = r#"{"Version":"2012-10-17","Statement":[]}"#;
    let arn = h.create(with(read, "payments")).await;
    h.standin.clear_eks_calls();
    // Its other updates go through, and so would the rollback to it: the policy it holds
    // is not sent again.
    let old = with(repeating, "payments");
    let response = h
        .send(&h.update(&arn, old.clone(), with(repeating, "billing")))
        .await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(
        h.eks_operations(),
        ["DescribePodIdentityAssociation", "TagResource"]
    );
    // A policy change to one that repeats a key is refused before any change.
    h.standin.clear_eks_calls();
    let other = r#"{"Version":"2012-10-17","Version":"2008-10-17","Statement":[]}"#;
    let response = h.send(&h.update(&arn, old, with(other, "billing"))).await;
    assert_failed(&response, &["Policy: must not repeat a key"]);
    assert_eq!(h.eks_operations(), ["DescribePodIdentityAssociation"]);
    let kept: Value =
        serde_json::from_str(association(&h, &arn).unwrap().policy.as_deref().unwrap()).unwrap();
    assert_eq!(kept, serde_json::from_str::<Value>(read).unwrap());
    // A Delete that looks the association up by the template's properties finds it.
    let placeholder = "cfn-eks-pod-identity-0123abcd-4567-89ef-0123-456789abcdef";
    let delete = h.event("Delete", with(repeating, "billing"), Some(placeholder));
    let response = h.send_within(&delete, Duration::from_secs(8)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(association(&h, &arn), None);
}

#[tokio::test]
async fn deletes_of_unknown_and_already_deleted_ids_succeed() {
    let h = Harness::start().await;
    // Ids CloudFormation invents, or a failed Create's, with properties that never
    // validated: nothing can exist, so no EKS call at all.
    for id in ["PodIdentity-1A2B3C4D5E6F", "cfn-eks-pod-identity-0000"] {
        for props in [
            json!({}),
            properties_with(json!({"Namespace": "Bad_Namespace"})),
        ] {
            let response = h.send(&h.event("Delete", props, Some(id))).await;
            assert_eq!(response["Status"], "SUCCESS", "{response}");
            assert_eq!(
                response["PhysicalResourceId"], id,
                "Delete answers with the id it was given"
            );
        }
    }
    assert!(h.eks_operations().is_empty(), "{:?}", h.eks_operations());
    // With valid properties, only look-ups (see tests/ownership.rs for what they find): one
    // for an event without an id, which CloudFormation never sends.
    h.standin.clear_eks_calls();
    let response = h.send(&h.event("Delete", properties(), None)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(h.eks_operations(), vec!["ListPodIdentityAssociations"]);
    // A failed Create's placeholder: that Create has answered, but a request of it EKS had
    // may still be carried out, so its Delete looks again, until its own cut-off.
    h.standin.clear_eks_calls();
    let placeholder = "cfn-eks-pod-identity-0123abcd-4567-89ef-0123-456789abcdef";
    let delete = h.event("Delete", properties(), Some(placeholder));
    // 10 s: the last look is due 3 s in and may end 5 s in, time for a second one even when
    // the first ends seconds late.
    let response = h.send_within(&delete, Duration::from_secs(10)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let looks = h.eks_operations();
    assert!(
        looks.len() >= 2 && looks.iter().all(|op| op == "ListPodIdentityAssociations"),
        "{looks:?}"
    );
    // An invented id: the Create CloudFormation gave up on may still be running, so the
    // Delete looks again until that Create can no longer run, and answers in time. A later
    // look that fails is passed over: it could only miss what another finds.
    h.standin.clear_eks_calls();
    let delete = h.event("Delete", properties(), Some("PodIdentity-1A2B3C4D5E6F"));
    let id = h.standin.invoke(delete.clone(), Duration::from_secs(12));
    assert!(
        h.standin
            .wait_for_eks_call("ListPodIdentityAssociations", Duration::from_secs(5))
            .await
    );
    h.standin.inject(
        FaultTarget::eks("ListPodIdentityAssociations"),
        Fault::status(400, "InvalidRequestException", "a bad moment"),
        1,
    );
    let outcome = h
        .standin
        .wait_for_outcome(&id, Duration::from_secs(20))
        .await;
    assert!(matches!(outcome, Some(Outcome::Response(_))), "{outcome:?}");
    let response = &h.responses(&delete)[0];
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert!(h.ended_before_the_deadline());
    let statuses = h.statuses_of("ListPodIdentityAssociations");
    let refused = statuses.iter().position(|status| *status == Some(400));
    assert!(
        refused.is_some_and(|at| at + 1 < statuses.len()),
        "a look was refused, and another came after it: {statuses:?}"
    );
    let operations = h.eks_operations();
    assert!(operations.len() >= 3, "{operations:?}");
    assert!(
        operations
            .iter()
            .all(|op| op == "ListPodIdentityAssociations"),
        "{operations:?}"
    );
    // Unless the cluster is gone: then no Create can make anything there.
    h.standin.mark_cluster_missing("prod");
    h.standin.clear_eks_calls();
    let response = h
        .send_within(
            &h.event("Delete", properties(), Some("PodIdentity-1A2B3C4D5E6F")),
            Duration::from_secs(12),
        )
        .await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(h.eks_operations(), vec!["ListPodIdentityAssociations"]);
    h.standin.mark_cluster_present("prod");

    let arn = h.create(properties()).await;
    for _ in 0..2 {
        let response = h.send(&h.event("Delete", properties(), Some(&arn))).await;
        assert_eq!(response["Status"], "SUCCESS", "{response}");
    }
    assert!(h.standin.associations().is_empty());

    // A cluster that is gone takes its associations with it.
    let arn = h.create(properties()).await;
    h.standin.mark_cluster_missing("prod");
    let response = h.send(&h.event("Delete", properties(), Some(&arn))).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
}

#[tokio::test]
async fn a_failed_create_is_cleaned_up_by_its_delete_without_eks_calls() {
    let h = Harness::start().await;
    let bad = properties_with(json!({"Namespace": "Not_Valid"}));
    let failed = h.send(&h.event("Create", bad.clone(), None)).await;
    assert_failed(&failed, &["Namespace"]);
    let id = failed["PhysicalResourceId"].as_str().unwrap();
    let response = h.send(&h.event("Delete", bad, Some(id))).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert!(h.eks_operations().is_empty());
}

#[tokio::test]
async fn a_duplicate_service_account_fails_naming_the_existing_association() {
    let h = Harness::start().await;
    let arn = h.create(properties()).await;
    let existing_id = arn.rsplit('/').next().unwrap();
    let mut other_stack = h.event("Create", properties(), None);
    other_stack["LogicalResourceId"] = json!("Other");
    let response = h.send(&other_stack).await;
    assert_failed(
        &response,
        &["already exists", existing_id, "payments", "api"],
    );
    assert_eq!(h.standin.associations().len(), 1);
}

#[tokio::test]
async fn the_whole_lifecycle_leaves_nothing() {
    let h = Harness::start().await;
    let arn = h.create(properties()).await;
    let new = properties_with(json!({"RoleArn": "arn:aws:iam::111122223333:role/v2", "Tags": []}));
    let response = h.send(&h.update(&arn, properties(), new.clone())).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let response = h.send(&h.event("Delete", new, Some(&arn))).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert!(h.standin.associations().is_empty());
}

#[tokio::test]
async fn the_whole_lifecycle_over_https_as_deployed() {
    // EKS and the response bucket over TLS, with a certificate the function trusts only
    // because SSL_CERT_FILE names it (its built-in roots are the public ones).
    let h = Harness::start_tls().await;
    assert!(h.standin.url().starts_with("https://localhost:"));
    assert!(h
        .standin
        .response_url("k")
        .starts_with("https://127.0.0.1:"));
    let arn = h.create(properties()).await;
    let new = properties_with(json!({"RoleArn": "arn:aws:iam::111122223333:role/v2"}));
    let response = h.send(&h.update(&arn, properties(), new.clone())).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(
        association(&h, &arn).map(|a| a.role_arn),
        Some("arn:aws:iam::111122223333:role/v2".to_owned())
    );
    let response = h.send(&h.event("Delete", new, Some(&arn))).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert!(h.standin.associations().is_empty());
}

/// The log filter that shows how the HTTP client's hosts were looked up (src/dns.rs).
const LOOK_UPS: (&str, &str) = ("RUST_LOG", "info,cfn_eks_pod_identity::dns=debug");

/// Asserts that `host` was looked up once, by a look-up made ahead (`when`).
fn assert_looked_up_ahead(h: &Harness, host: &str, when: &str) {
    let field = format!("host=\"{host}\"");
    let logs = h.logs();
    let look_ups: Vec<&str> = logs.lines().filter(|line| line.contains(&field)).collect();
    assert!(
        look_ups.len() == 1 && look_ups[0].contains("addresses from the look-up made ahead"),
        "one look-up of {host}, made {when}: {look_ups:?}\n{logs}"
    );
}

#[tokio::test]
async fn the_eks_host_is_looked_up_while_the_first_event_is_awaited() {
    // Over HTTPS EKS is at `localhost`, a name, as it is deployed.
    let h = Harness::start_tls_with(&[LOOK_UPS]).await;
    h.create(properties()).await;
    assert_looked_up_ahead(&h, "localhost", "at start-up");
}

#[tokio::test]
async fn the_response_urls_host_is_looked_up_while_eks_is_called() {
    // EKS at 127.0.0.1 (no look-up), the response at `localhost`: a second host, as S3 is.
    let h = Harness::start_with(&[LOOK_UPS]).await;
    let mut event = h.event("Create", properties(), None);
    let url = event["ResponseURL"].as_str().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    event["ResponseURL"] = json!(url.replacen("127.0.0.1", "localhost", 1));
    let response = h.send(&event).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_looked_up_ahead(&h, "localhost", "when the event came");
}

#[tokio::test]
async fn settings_and_tags_change_in_one_update() {
    let h = Harness::start().await;
    let arn = h.create(properties()).await;
    h.standin.clear_eks_calls();
    let new = properties_with(json!({
        "RoleArn": "arn:aws:iam::111122223333:role/payments-api-v2",
        "Tags": [{"Key": "team", "Value": "billing"}],
    }));
    let response = h.send(&h.update(&arn, properties(), new)).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let updated = association(&h, &arn).unwrap();
    assert_eq!(
        updated.role_arn,
        "arn:aws:iam::111122223333:role/payments-api-v2"
    );
    assert_eq!(
        updated.tags.get("team").map(String::as_str),
        Some("billing")
    );
    let mut operations = h.eks_operations();
    operations.sort();
    assert_eq!(
        operations,
        vec![
            "DescribePodIdentityAssociation",
            "TagResource",
            "UpdatePodIdentityAssociation"
        ]
    );
}

#[tokio::test]
async fn a_refused_settings_update_leaves_the_tags_as_they_were() {
    let h = Harness::start().await;
    let arn = h.create(properties()).await;
    let before = association(&h, &arn).unwrap();
    h.standin.clear_eks_calls();
    // What EKS answers for a role the function may not pass.
    h.standin.inject(
        FaultTarget::eks("UpdatePodIdentityAssociation"),
        Fault::status(
            403,
            "AccessDeniedException",
            "User is not authorized to perform: iam:PassRole on resource: payments-api-v3",
        ),
        1,
    );
    let new = properties_with(json!({
        "RoleArn": "arn:aws:iam::111122223333:role/payments-api-v3",
        "Tags": [{"Key": "team", "Value": "billing"}],
    }));
    let response = h.send(&h.update(&arn, properties(), new)).await;
    assert_failed(&response, &["iam:PassRole"]);
    let after = association(&h, &arn).unwrap();
    assert_eq!(after.tags, before.tags);
    assert_eq!(after.role_arn, before.role_arn);
    assert_eq!(
        h.eks_operations(),
        [
            "DescribePodIdentityAssociation",
            "UpdatePodIdentityAssociation"
        ]
    );
}

/// EKS passes no role to another account, and says so without naming the property: the
/// function refuses such a RoleArn itself, naming it, before any call that would change
/// something. The function's account is the one Lambda invokes it in.
#[tokio::test]
async fn a_role_in_another_account_is_refused_naming_role_arn() {
    let h = Harness::start().await;
    let elsewhere = json!({"RoleArn": "arn:aws:iam::444455556666:role/payments-api"});
    let response = h
        .send(&h.event("Create", properties_with(elsewhere.clone()), None))
        .await;
    assert_failed(&response, &["RoleArn", "444455556666", "TargetRoleArn"]);
    assert!(h.eks_operations().is_empty(), "{:?}", h.eks_operations());
    assert!(h.standin.associations().is_empty());

    // Nor does an update send it: the association keeps its role.
    let arn = h.create(properties()).await;
    h.standin.clear_eks_calls();
    let update = h.update(&arn, properties(), properties_with(elsewhere));
    assert_failed(&h.send(&update).await, &["RoleArn", "444455556666"]);
    assert_eq!(h.eks_operations(), ["DescribePodIdentityAssociation"]);
    let kept = association(&h, &arn).unwrap();
    assert_eq!(kept.role_arn, properties()["RoleArn"].as_str().unwrap());
}

/// Every rule broken is in one Reason, so that a template is fixed in one deployment, not one
/// property a deployment; and nothing is sent.
#[tokio::test]
async fn every_broken_rule_is_reported_at_once_before_eks_is_called() {
    let h = Harness::start().await;
    let mut bad =
        properties_with(json!({"Namespace": "Bad_", "Tags": [{"Key": "aws:x", "Value": "1"}]}));
    bad["RoleARN"] = json!("arn:aws:iam::111122223333:role/payments-api");
    let response = h.send(&h.event("Create", bad, None)).await;
    assert_failed(&response, &["Namespace", "Bad_", "RoleARN", "Tags", "aws:"]);

    // The two checks made where a value is sent report together too.
    let repeated = r#"{"Version":"2012-10-17","Version":"2008-10-17","Statement":[]}"#;
    let both = properties_with(json!({
        "RoleArn": "arn:aws:iam::444455556666:role/payments-api",
        "DisableSessionTags": "true",
        "Policy": repeated,
    }));
    let response = h.send(&h.event("Create", both, None)).await;
    assert_failed(
        &response,
        &["Policy", "repeat a key", "RoleArn", "444455556666"],
    );

    // And in a Create, with the rules the properties break when read.
    let copied = properties_with(json!({
        "Namespace": "Payments",
        "RoleArn": "arn:aws:iam::444455556666:role/payments-api",
        "Tags": {"Key": "team", "Value": "payments"},
    }));
    let response = h.send(&h.event("Create", copied, None)).await;
    assert_failed(
        &response,
        &[
            "Namespace",
            "Payments",
            "RoleArn",
            "444455556666",
            "Tags",
            "list item",
        ],
    );
    assert!(h.eks_operations().is_empty(), "{:?}", h.eks_operations());
    assert!(h.standin.associations().is_empty());
}

/// The account is the one in the ARN Lambda invokes the function by (an alias here), not a
/// fixed one; an ARN that names none checks nothing, and leaves the answer to EKS.
#[tokio::test]
async fn the_roles_account_is_compared_with_the_one_lambda_invokes_the_function_in() {
    let h = Harness::start().await;
    let there = "arn:aws:lambda:us-east-1:444455556666:function:cfn-eks-pod-identity:live";
    let ok = create_invoked_as(&h, there, "arn:aws:iam::444455556666:role/api", "a", None).await;
    assert_eq!(ok["Status"], "SUCCESS", "{ok}");
    let refused =
        create_invoked_as(&h, there, "arn:aws:iam::111122223333:role/api", "b", None).await;
    assert_failed(&refused, &["RoleArn", "111122223333", "444455556666"]);
    let nameless = "cfn-eks-pod-identity";
    let unknown = create_invoked_as(
        &h,
        nameless,
        "arn:aws:iam::999988887777:role/api",
        "c",
        None,
    )
    .await;
    assert_eq!(unknown["Status"], "SUCCESS", "{unknown}");
    assert_eq!(h.standin.associations().len(), 2);
}

/// A template written for another partition names roles EKS cannot find, and EKS answers as
/// for a role still propagating: refused before it is sent, naming the property. The
/// partition is the function's own, from the ARN Lambda invokes it by.
#[tokio::test]
async fn roles_of_another_partition_are_refused_naming_the_property() {
    let h = Harness::start().await;
    let china = "arn:aws-cn:lambda:cn-north-1:111122223333:function:cfn-eks-pod-identity";
    let copied = "arn:aws:iam::111122223333:role/api";
    let refused = create_invoked_as(&h, china, copied, "a", None).await;
    assert_failed(&refused, &["RoleArn", "aws-cn", "partition"]);
    let native = "arn:aws-cn:iam::111122223333:role/api";
    let gov = "arn:aws-us-gov:iam::444455556666:role/data";
    let refused = create_invoked_as(&h, china, native, "b", Some(gov)).await;
    assert_failed(&refused, &["TargetRoleArn", "aws-us-gov", "partition"]);
    assert!(h.eks_operations().is_empty(), "{:?}", h.eks_operations());
    let ok = create_invoked_as(&h, china, native, "c", None).await;
    assert_eq!(ok["Status"], "SUCCESS", "{ok}");

    // An Update sends a RoleArn of another partition no more than a Create does; a target
    // role it leaves to EKS, as an earlier version did, so that an association made then
    // can still be updated and rolled back.
    let arn = h.create(properties()).await;
    let role = properties_with(json!({"RoleArn": "arn:aws-cn:iam::111122223333:role/api"}));
    let update = h.send(&h.update(&arn, properties(), role)).await;
    assert_failed(&update, &["RoleArn", "aws-cn", "partition"]);
    let target = properties_with(json!({"TargetRoleArn": gov}));
    let update = h.send(&h.update(&arn, properties(), target)).await;
    assert_eq!(update["Status"], "SUCCESS", "{update}");
    assert_eq!(
        association(&h, &arn).unwrap().target_role_arn.as_deref(),
        Some(gov)
    );
}

/// A Region in another partition than the function's, as in a template copied from one: the
/// function's credentials are not valid there, and EKS would refuse every call with an error
/// about the security token that names no property. Refused before any call, naming Region,
/// in a Create and in an Update that would move the association there. (The stand-in takes
/// such calls, so without the check both would succeed here.)
#[tokio::test]
async fn a_region_of_another_partition_is_refused_naming_it() {
    let h = Harness::start().await;
    let china = properties_with(json!({"Region": "cn-north-1"}));
    let refused = h.send(&h.event("Create", china.clone(), None)).await;
    assert_failed(&refused, &["Region", "cn-north-1", "aws-cn", "partition"]);
    assert!(h.eks_operations().is_empty(), "{:?}", h.eks_operations());
    assert!(h.standin.associations().is_empty());

    let arn = h.create(properties()).await;
    h.standin.clear_eks_calls();
    let moved = h.send(&h.update(&arn, properties(), china)).await;
    assert_failed(&moved, &["Region", "cn-north-1", "aws-cn"]);
    assert_eq!(moved["PhysicalResourceId"], arn.as_str());
    assert!(h.eks_operations().is_empty(), "{:?}", h.eks_operations());
    assert_eq!(h.standin.associations().len(), 1);
    // Another region of the function's own partition is what Region is for.
    let ireland = properties_with(json!({"Region": "eu-west-1"}));
    let moved = h.send(&h.update(&arn, properties(), ireland)).await;
    assert_eq!(moved["Status"], "SUCCESS", "{moved}");
}

/// One tag written in YAML without its list dash arrives as a map of Key and Value, which
/// would make two tags so named: refused for a new resource. A stack an earlier version
/// tagged so still takes updates, replacements and rollbacks with that map in them.
#[tokio::test]
async fn one_tag_written_without_its_list_dash_is_refused_for_a_new_resource_only() {
    let h = Harness::start().await;
    let map = properties_with(json!({"Tags": {"Key": "team", "Value": "payments"}}));
    let refused = h.send(&h.event("Create", map.clone(), None)).await;
    assert_failed(&refused, &["Tags", "without its dash"]);
    assert!(h.eks_operations().is_empty(), "{:?}", h.eks_operations());

    // Tagged Key=team and Value=payments, as an earlier version read that map.
    let arn = h
        .create(properties_with(json!({"Tags": [
            {"Key": "Key", "Value": "team"},
            {"Key": "Value", "Value": "payments"},
        ]})))
        .await;
    let tag = |arn: &str, key: &str| association(&h, arn).unwrap().tags.get(key).cloned();
    // The template fixed, then rolled back: both go through.
    let fixed = properties_with(json!({"Tags": [{"Key": "team", "Value": "payments"}]}));
    let response = h.send(&h.update(&arn, map.clone(), fixed.clone())).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(tag(&arn, "team").as_deref(), Some("payments"));
    assert_eq!(tag(&arn, "Key"), None);
    let rollback = h.send(&h.update(&arn, fixed, map.clone())).await;
    assert_eq!(rollback["Status"], "SUCCESS", "{rollback}");
    assert_eq!(tag(&arn, "Key").as_deref(), Some("team"));
    // And a replacement that carries the map along.
    let mut moved = map.clone();
    moved["Namespace"] = json!("billing");
    let replaced = h.send(&h.update(&arn, map, moved)).await;
    assert_eq!(replaced["Status"], "SUCCESS", "{replaced}");
    let new_arn = replaced["PhysicalResourceId"].as_str().unwrap_or_default();
    assert_eq!(tag(new_arn, "Value").as_deref(), Some("payments"));
}

/// The answer to a Create, for its own service account and logical id, of `role` (and
/// `target`, if any), invoked by `function_arn`.
async fn create_invoked_as(
    h: &Harness,
    function_arn: &str,
    role: &str,
    name: &str,
    target: Option<&str>,
) -> Value {
    let mut properties = properties_with(json!({"RoleArn": role, "ServiceAccount": name}));
    if let Some(target) = target {
        properties["TargetRoleArn"] = json!(target);
    }
    let mut event = h.event("Create", properties, None);
    event["LogicalResourceId"] = json!(name);
    let id = h.standin.invoke_with(Invocation {
        event: event.clone(),
        timeout: Duration::from_secs(30),
        function_arn: function_arn.to_owned(),
    });
    h.ended(&id, Duration::from_secs(30)).await;
    h.responses(&event).remove(0)
}

#[tokio::test]
async fn without_credentials_in_the_environment_an_event_fails_naming_the_variables() {
    // Inside Lambda the environment always holds the role's credentials; run anywhere else
    // without them, the function must still answer, and say what to set.
    let h = Harness::start_with(&[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")]).await;
    let response = h.send(&h.event("Create", properties(), None)).await;
    assert_failed(&response, &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
    assert!(h.standin.associations().is_empty());
    // Nothing was sent, so the rollback's Delete needs no call, which would fail alike.
    let id = response["PhysicalResourceId"].as_str().unwrap();
    let delete = h.send(&h.event("Delete", properties(), Some(id))).await;
    assert_eq!(delete["Status"], "SUCCESS", "{delete}");
}

#[tokio::test]
async fn the_default_region_comes_from_aws_default_region_when_aws_region_is_unset() {
    let h = Harness::start_with(&[("AWS_REGION", ""), ("AWS_DEFAULT_REGION", "eu-west-1")]).await;
    let arn = h.create(properties()).await;
    assert!(arn.starts_with("arn:aws:eks:eu-west-1:"), "{arn}");
}

#[tokio::test]
async fn the_fips_and_dual_stack_variables_reach_the_sdks_endpoint_rules() {
    // The SDK refuses either with a custom endpoint (the stand-in's), so its refusal, as the
    // FAILED reason, is the proof that each variable reached the endpoint rules.
    for (variable, refusal) in [
        (
            "AWS_USE_FIPS_ENDPOINT",
            "FIPS and custom endpoint are not supported",
        ),
        (
            "AWS_USE_DUALSTACK_ENDPOINT",
            "Dualstack and custom endpoint are not supported",
        ),
    ] {
        let h = Harness::start_with(&[(variable, "true")]).await;
        let response = h.send(&h.event("Create", properties(), None)).await;
        assert_failed(&response, &[refusal]);
        assert!(h.standin.associations().is_empty());
    }
}
