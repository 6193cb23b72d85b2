//! Fuzzes what the function does with an invocation payload before any network call: read it
//! leniently, validate its properties (as any event reads them, and as a Create checks them),
//! and build the answer CloudFormation would get.

#![no_main]

use cfn_eks_pod_identity::arn::Home;
use cfn_eks_pod_identity::event::{Incoming, Request};
use cfn_eks_pod_identity::handler::decide;
use cfn_eks_pod_identity::progress::Progress;
use cfn_eks_pod_identity::properties::DesiredAssociation;
use cfn_eks_pod_identity::resource::Failure;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let request = Request::from_incoming(Incoming::from_slice(data));
    let read = DesiredAssociation::from_properties(&request.properties, "us-east-1");
    // A Create is checked against the read rules and then the send-time ones, in one error:
    // the read rules' errors come first and whole, and only send-time rules are added.
    let home = Home::of("arn:aws:lambda:us-east-1:111122223333:function:f");
    let new = DesiredAssociation::of_new_resource(&request.properties, "us-east-1", home.as_ref());
    let send_time = ["Region", "Policy", "RoleArn", "TargetRoleArn", "Tags"];
    match (&read, &new) {
        (Err(read), Err(new)) => assert!(new.0.starts_with(&read.0), "{read} / {new}"),
        (Err(read), Ok(_)) => panic!("a Create passed what reading refused: {read}"),
        (Ok(desired), Ok(created)) => assert_eq!(desired, created),
        (Ok(_), Err(new)) => assert!(
            new.0
                .iter()
                .all(|e| send_time.contains(&e.property.as_str())),
            "{new}"
        ),
    }
    let outcome = read
        .map(|_| Failure::new("valid"))
        .unwrap_or_else(Failure::from);
    let response = decide(&request, Err(outcome), &Progress::default());
    assert!(!response.physical_resource_id.is_empty());
    // The required fields are echoed whole; whatever else there is must fit around them.
    let required = response.physical_resource_id.len()
        + response.stack_id.len()
        + response.request_id.len()
        + response.logical_resource_id.len();
    let body = response.body();
    if required < 2048 {
        assert!(body.len() <= 4096, "{} bytes", body.len());
    }
    let _: serde_json::Value = serde_json::from_slice(&body).expect("the body is JSON");
});
