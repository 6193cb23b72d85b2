//! `bench-floor-sdk`: the least a custom resource on aws-sdk-eks can do, for `make bench-sdk`.
//! For each event it makes one signed EKS call (ListPodIdentityAssociations of the event's
//! cluster, its answer unread), through the function's own HTTP client and EKS configuration,
//! then PUTs a SUCCESS response as `floor/` does (its library). Against `floor/` it measures
//! what the SDK's one call costs, which any function that manages associations with the SDK
//! pays; against the function, what the function costs beyond that.

use cfn_eks_pod_identity::config::Environment;
use cfn_eks_pod_identity::dns::Resolver;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let http = cfn_eks_pod_identity::http::client(Arc::new(Resolver::default()))?;
    let config = cfn_eks_pod_identity::eks::config(http.clone(), Environment::read());
    let eks = aws_sdk_eks::Client::from_conf(config);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (http, eks) = (http.clone(), eks.clone());
        // Boxed, as the function boxes its handler: the SDK's futures are large.
        Box::pin(async move { list_then_respond(&http, &eks, &event.payload).await })
    }))
    .await
}

/// Lists the associations of the event's cluster, then answers as the floor does. The call's
/// outcome is not looked at: it is the round trip that is measured.
async fn list_then_respond(
    http: &reqwest::Client,
    eks: &aws_sdk_eks::Client,
    event: &Value,
) -> Result<(), Error> {
    let cluster = event
        .pointer("/ResourceProperties/ClusterName")
        .and_then(Value::as_str)
        .unwrap_or("prod");
    let _ = eks
        .list_pod_identity_associations()
        .cluster_name(cluster)
        .send()
        .await;
    bench_floor::respond(http, event).await
}
