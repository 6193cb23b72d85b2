//! `bench-floor`: the least a CloudFormation custom resource on `lambda_runtime` can do, as
//! the baseline of `make bench`. For each event it PUTs a SUCCESS response to the event's
//! ResponseURL and nothing else, over the same runtime and HTTP stack as the function, so
//! whatever the function costs beyond this floor is its own.

use bench_floor::{http_client, respond};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // Built once, as the function builds its client, so that a warm event reuses the connection.
    let http = http_client()?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let http = http.clone();
        async move { respond(&http, &event.payload).await }
    }))
    .await
}
