//! Fuzzes what the function does with an invocation payload before any network call: read it
//! leniently, validate its properties, and build the answer CloudFormation would get.

#![no_main]

use cfn_eks_pod_identity::event::{Incoming, Request};
use cfn_eks_pod_identity::handler::decide;
use cfn_eks_pod_identity::progress::Progress;
use cfn_eks_pod_identity::properties::DesiredAssociation;
use cfn_eks_pod_identity::resource::Failure;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let request = Request::from_incoming(Incoming::from_slice(data));
    let outcome = DesiredAssociation::from_properties(&request.properties, "us-east-1")
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
