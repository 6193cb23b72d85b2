//! Property-based tests over arbitrary events and property values: never a panic, and
//! whenever a ResponseURL can be found, exactly one response of at most 4096 bytes with a
//! non-empty PhysicalResourceId.

mod common;

use cfn_eks_pod_identity::event::{Incoming, Request};
use cfn_eks_pod_identity::properties::DesiredAssociation;
use common::{properties, Harness};
use proptest::prelude::*;
use serde_json::{Map, Value};
use standin::Outcome;
use std::time::Duration;

/// Any JSON value, a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("true"),
            Just("false"),
            Just(""),
            Just("a-b"),
            Just("arn:aws:iam::111122223333:role/r")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[A-Za-z]{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const NAMES: &[&str] = &[
    "ClusterName",
    "Namespace",
    "ServiceAccount",
    "Region",
    "RoleArn",
    "TargetRoleArn",
    "DisableSessionTags",
    "Policy",
    "Tags",
    "ServiceToken",
    "ServiceTimeout",
    "Other",
];

/// Changes to template properties: known names (and one unknown) with arbitrary values.
fn changes() -> impl Strategy<Value = Vec<(&'static str, Value)>> {
    prop::collection::vec((prop::sample::select(NAMES), json()), 0..5)
}

/// The valid base properties with `changes` made, in order.
fn changed(changes: &[(&str, Value)]) -> Map<String, Value> {
    let mut props = properties().as_object().cloned().unwrap_or_default();
    for (name, value) in changes {
        props.insert((*name).to_owned(), value.clone());
    }
    props
}

/// Template properties: known names (and one unknown) with arbitrary values, over a valid base.
fn property_map() -> impl Strategy<Value = Map<String, Value>> {
    changes().prop_map(|changes| changed(&changes))
}

/// One value each property refuses, whatever the others hold.
const INVALID: &[(&str, &str)] = &[
    ("ClusterName", "-prod"),
    ("Namespace", "Payments"),
    ("ServiceAccount", ""),
    ("Region", "us east 1"),
    ("RoleArn", "arn:aws:iam::111122223333:user/payments-api"),
    ("TargetRoleArn", "payments-api"),
    ("DisableSessionTags", "yes"),
    ("Policy", "[1]"),
    ("Tags", "team"),
    ("Other", "x"),
];

const TOP: &[&str] = &[
    "RequestType",
    "StackId",
    "RequestId",
    "LogicalResourceId",
    "PhysicalResourceId",
    "ResourceType",
    "OldResourceProperties",
    "ServiceToken",
    "Extra",
];

/// A whole event: arbitrary top-level fields, maybe a real request type, maybe properties.
fn event() -> impl Strategy<Value = (Map<String, Value>, bool)> {
    (
        prop::collection::vec((prop::sample::select(TOP), json()), 0..6),
        prop::option::of(prop_oneof![
            Just("Create"),
            Just("Update"),
            Just("Delete"),
            Just("Nope")
        ]),
        prop::option::of(property_map()),
        any::<bool>(),
    )
        .prop_map(|(fields, request_type, props, with_url)| {
            let mut event: Map<String, Value> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            event.remove("ServiceToken"); // Provider mode is tested on its own.
            if let Some(t) = request_type {
                event.insert("RequestType".into(), Value::from(t));
            }
            if let Some(p) = props {
                event.insert("ResourceProperties".into(), Value::Object(p));
            }
            (event, with_url)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn reading_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512), value in json()) {
        let _ = Request::from_incoming(Incoming::from_slice(&bytes));
        let request = Request::from_incoming(Incoming::Json(value.clone()));
        let _ = DesiredAssociation::from_properties(&request.properties, "us-east-1");
        if let Value::Object(map) = value {
            let _ = DesiredAssociation::from_properties(&map, "us-east-1");
        }
    }

    /// The base is valid, so whatever is refused was changed: an error naming any other
    /// property would send the user to the wrong line of the template.
    #[test]
    fn validation_never_panics_and_names_a_changed_property(changes in changes()) {
        let props = changed(&changes);
        if let Err(errors) = DesiredAssociation::from_properties(&props, "us-east-1") {
            prop_assert!(!errors.0.is_empty());
            for error in errors.0 {
                prop_assert!(
                    changes.iter().any(|(name, _)| *name == error.property),
                    "{error} names no property that was changed: {changes:?}"
                );
                prop_assert!(!error.rule.is_empty());
            }
        }
    }

    /// An invalid value is reported, naming its property, whatever else is wrong with the
    /// template: every violation is in the one answer.
    #[test]
    fn an_invalid_value_is_refused_whatever_else_changes(
        changes in changes(),
        invalid in prop::sample::select(INVALID),
    ) {
        let (name, value) = invalid;
        let mut props = changed(&changes);
        props.insert(name.to_owned(), Value::from(value));
        match DesiredAssociation::from_properties(&props, "us-east-1") {
            Ok(_) => prop_assert!(false, "{name}: {value:?} was accepted in {props:?}"),
            Err(errors) => prop_assert!(
                errors.0.iter().any(|error| error.property == name),
                "{name}: {value:?} not reported; got {errors}"
            ),
        }
    }
}

#[test]
fn every_event_with_a_response_url_gets_exactly_one_bounded_answer() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let h = runtime.block_on(Harness::start());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(96));
    let case = std::cell::Cell::new(0u32);
    runner
        .run(&event(), |(mut event, with_url)| {
            case.set(case.get() + 1);
            let key = format!("case-{}", case.get());
            if with_url {
                event.insert(
                    "ResponseURL".into(),
                    Value::from(h.standin.response_url(&key)),
                );
            }
            let outcome = runtime.block_on(async {
                let id = h
                    .standin
                    .invoke(Value::Object(event.clone()), Duration::from_secs(20));
                h.standin
                    .wait_for_outcome(&id, Duration::from_secs(30))
                    .await
            });
            prop_assert!(outcome.is_some(), "every invocation ends");
            let puts = h.standin.responses(&key);
            if !with_url {
                prop_assert!(puts.is_empty());
                prop_assert!(
                    matches!(outcome, Some(Outcome::Error { .. })),
                    "no URL, no answer: an error"
                );
                return Ok(());
            }
            prop_assert_eq!(puts.len(), 1, "{:?}", event);
            prop_assert!(puts[0].body.len() <= 4096);
            let response: Value = serde_json::from_slice(&puts[0].body)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(
                !response["PhysicalResourceId"]
                    .as_str()
                    .unwrap_or("")
                    .is_empty(),
                "{}",
                response
            );
            prop_assert!(matches!(
                response["Status"].as_str(),
                Some("SUCCESS" | "FAILED")
            ));
            if response["Status"] == "FAILED" {
                prop_assert!(!response["Reason"].as_str().unwrap_or("").is_empty());
            }
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}; logs:\n{}", h.logs()));
    // Whatever was created by the valid ones among them, nothing panicked the process:
    // it is still serving.
    let arn = runtime.block_on(h.create(common::properties_with(
        serde_json::json!({"ServiceAccount": "after-the-storm"}),
    )));
    assert!(arn.starts_with("arn:aws:eks:"));
}
