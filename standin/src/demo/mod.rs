//! The local lifecycle demo behind `make run`: the real Lambda binary,
//! driven through Create, Update and Delete by CloudFormation-style events
//! against the stand-in, with each step's response and the resulting
//! associations printed for a person to read.

mod event;
pub(crate) mod function;
mod show;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::ids::IdGen;
use crate::{Outcome, Standin};
use function::{Function, Logs};

/// The function's time limit per step.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a step waits for the response upload.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// The steps, in lifecycle order: (name, event file).
const STEPS: [(&str, &str); 3] = [
    ("Create", "create.json"),
    ("Update", "update.json"),
    ("Delete", "delete.json"),
];

/// What the demo needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// The compiled Lambda binary.
    pub lambda: PathBuf,
    /// Directory with `create.json`, `update.json` and `delete.json`.
    pub events: PathBuf,
}

fn read_event(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

/// Runs the demo; returns whether everything went as it should (every step
/// answered SUCCESS, nothing left behind, no response URL logged).
pub async fn run(options: &DemoOptions) -> Result<bool, String> {
    // Read every event first: a typo should fail before anything runs.
    let mut events = Vec::new();
    for (name, file) in STEPS {
        events.push((name, read_event(&options.events.join(file))?));
    }
    let standin = Standin::start()
        .await
        .map_err(|e| format!("cannot start the stand-in: {e}"))?;
    println!(
        "Stand-in for EKS, S3 and the Lambda Runtime API at {}",
        standin.url()
    );
    let mut function = Function::spawn(&options.lambda, standin.function_env(), Logs::Console)
        .map_err(|e| format!("cannot start {}: {e}", options.lambda.display()))?;
    println!("Started the function {}\n", options.lambda.display());

    let outcome = run_steps(&standin, &mut function, events).await;
    let leaked = function.stop().await;

    let mut ok = outcome;
    let left = standin.associations();
    println!("\n== Result ==");
    if left.is_empty() {
        println!("The association is gone: the stand-in holds no associations after Delete.");
    } else {
        ok = false;
        println!(
            "NOT CLEAN: {} association(s) still exist after Delete:",
            left.len()
        );
        println!("{}", show::table(&left));
    }
    if leaked {
        ok = false;
        println!("LEAK: the function logged the presigned response URL's signature.");
    }
    println!(
        "{}",
        if ok {
            "Demo succeeded."
        } else {
            "Demo FAILED."
        }
    );
    Ok(ok)
}

/// Runs the steps in order; false if any step did not answer SUCCESS.
async fn run_steps(standin: &Standin, function: &mut Function, events: Vec<(&str, Value)>) -> bool {
    let mut all_succeeded = true;
    let mut physical_id: Option<String> = None;
    let ids = IdGen::new();
    let total = events.len();
    for (n, (name, sample)) in events.into_iter().enumerate() {
        println!("== Step {}/{total}: {name} ==", n + 1);
        let request_id = ids.uuid();
        let key = format!("demo/{}/{request_id}", name.to_lowercase());
        let previous = if name == "Create" {
            None
        } else {
            physical_id.as_deref()
        };
        let event = match event::prepare(sample, &standin.response_url(&key), &request_id, previous)
        {
            Ok(event) => event,
            Err(e) => {
                println!("  cannot prepare the {name} event: {e}");
                return false;
            }
        };
        let invocation = standin.invoke(event, INVOKE_TIMEOUT);
        let responses = tokio::select! {
            got = standin.wait_for_responses(&key, 1, RESPONSE_TIMEOUT) => got,
            status = function.exited() => {
                println!("  the function exited ({status:?}) before answering");
                return false;
            }
        };
        let Some(response) = responses.first() else {
            println!(
                "  no response reached the bucket within {} s",
                RESPONSE_TIMEOUT.as_secs()
            );
            if let Some(outcome) = standin
                .wait_for_outcome(&invocation, Duration::from_millis(100))
                .await
            {
                println!("  the invocation ended with: {outcome:?}");
            }
            return false;
        };
        // The function logs a little after its upload; let it finish so its
        // lines appear under this step rather than the next.
        match standin
            .wait_for_outcome(&invocation, Duration::from_secs(5))
            .await
        {
            Some(Outcome::Error {
                error_type,
                message,
            }) => {
                println!(
                    "  the invocation failed: {error_type}: {}",
                    show::redact_text(&message)
                );
            }
            Some(Outcome::Response(_)) => {}
            None => println!("  the invocation did not finish within 5 s of its upload"),
        }
        let body = response
            .json()
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&response.body).into_owned()));
        println!("CloudFormation response:\n{}", show::pretty(&body));
        let status = body
            .get("Status")
            .and_then(Value::as_str)
            .unwrap_or("(none)");
        if status != "SUCCESS" {
            all_succeeded = false;
            println!("  Status is {status}, not SUCCESS");
        }
        if let Some(id) = body.get("PhysicalResourceId").and_then(Value::as_str) {
            physical_id = Some(id.to_string());
        }
        println!(
            "Associations after {name}:\n{}\n",
            show::table(&standin.associations())
        );
    }
    all_succeeded
}
