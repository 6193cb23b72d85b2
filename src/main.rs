//! The Lambda entry point: builds the clients once, then lends them to the handler for every
//! event (the shape of aws-lambda-rust-runtime's `basic-shared-resource` example).

use cfn_eks_pod_identity::config::Environment;
use cfn_eks_pod_identity::dns::Resolver;
use cfn_eks_pod_identity::eks::Eks;
use cfn_eks_pod_identity::event::Incoming;
use cfn_eks_pod_identity::handler::{Handler, Mode, Settings};
use lambda_runtime::{service_fn, LambdaEvent};
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    cfn_eks_pod_identity::logging::init();

    // One HTTP client for everything: the SDK's EKS calls and the response PUT.
    let resolver = Arc::new(Resolver::default());
    let http = cfn_eks_pod_identity::http::client(resolver.clone())?;
    let environment = Environment::read();
    let settings = Settings {
        function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default(),
        forced_mode: forced_mode(),
        allow_loopback: std::env::var("CFN_RESPONSE_ALLOW_LOOPBACK")
            .is_ok_and(|v| v.eq_ignore_ascii_case("true")),
        default_region: environment
            .region
            .clone()
            .unwrap_or_else(|| "us-east-1".to_owned()),
    };
    // Looked up while the runtime asks for the first event, rather than after it.
    if let Some(host) = environment.eks_host(&settings.default_region) {
        resolver.look_up_ahead(&host);
    }
    let config = cfn_eks_pod_identity::eks::config(http.clone(), environment);
    let handler = Arc::new(Handler::new(Eks::new(config), http, resolver, settings));

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Incoming>| {
        let deadline = event.context.deadline();
        let handler = handler.clone();
        // Boxed: the handler's future is deep, and the runtime nests it further.
        Box::pin(async move {
            let function = event.context.invoked_function_arn;
            handler.handle(event.payload, deadline, &function).await
        })
    }))
    .await
}

/// `CFN_RESPONSE_MODE=direct|provider|auto` (`auto`, or unset: per event); anything else is
/// logged and ignored rather than failing the start-up, which would leave every stack waiting
/// for an answer.
fn forced_mode() -> Option<Mode> {
    match std::env::var("CFN_RESPONSE_MODE")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "" | "auto" => None,
        "direct" => Some(Mode::Direct),
        "provider" => Some(Mode::Provider),
        other => {
            tracing::warn!(
                value = other,
                "CFN_RESPONSE_MODE must be direct, provider or auto; deciding per event"
            );
            None
        }
    }
}
