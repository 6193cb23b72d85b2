//! The end-to-end harness: a stand-in for AWS, and the real compiled Lambda binary running
//! against it through the Lambda Runtime API, as Lambda would run it.

#![allow(dead_code)] // Each test file uses its own part of the harness.

use serde_json::{json, Value};
use standin::{Fault, FaultTarget, Outcome, Standin};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// The template properties of a valid association.
pub fn properties() -> Value {
    json!({
        "ServiceToken": Standin::FUNCTION_ARN,
        "ClusterName": "prod",
        "Namespace": "payments",
        "ServiceAccount": "api",
        "RoleArn": "arn:aws:iam::111122223333:role/payments-api",
        "Tags": [{"Key": "team", "Value": "payments"}],
    })
}

/// `properties()` with some fields replaced or (with `null`) removed.
pub fn properties_with(changes: Value) -> Value {
    let mut props = properties();
    for (key, value) in changes.as_object().cloned().unwrap_or_default() {
        if value.is_null() {
            props.as_object_mut().map(|p| p.remove(&key));
        } else {
            props[key] = value;
        }
    }
    props
}

pub const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:111122223333:stack/payments/0f1e2d3c";

/// One stand-in and the function processes running against it: one, unless a test adds
/// more (as Lambda runs one per event in flight).
pub struct Harness {
    pub standin: Standin,
    env: Vec<(String, String)>,
    children: Vec<Child>,
    logs: Arc<Mutex<Vec<u8>>>,
    counter: AtomicU32,
}

impl Harness {
    /// Starts the stand-in and the function with the stand-in's environment.
    pub async fn start() -> Harness {
        Harness::start_with(&[]).await
    }

    /// Same, with extra (or overriding) environment variables; an empty value removes one.
    pub async fn start_with(env: &[(&str, &str)]) -> Harness {
        let standin = Standin::start().await.expect("start the stand-in");
        Harness::run(standin, env)
    }

    /// Starts the stand-in with EKS and the bucket over HTTPS, as deployed, and the
    /// function trusting its certificate through `SSL_CERT_FILE`.
    pub async fn start_tls() -> Harness {
        Harness::start_tls_with(&[]).await
    }

    /// [`Harness::start_tls`], with extra environment variables, as for `start_with`.
    pub async fn start_tls_with(env: &[(&str, &str)]) -> Harness {
        let standin = Standin::start_tls().await.expect("start the stand-in");
        Harness::run(standin, env)
    }

    fn run(standin: Standin, env: &[(&str, &str)]) -> Harness {
        let mut harness = Harness {
            standin,
            env: env
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
            children: Vec::new(),
            logs: Arc::new(Mutex::new(Vec::new())),
            counter: AtomicU32::new(0),
        };
        harness.add_instance();
        harness
    }

    /// Starts one more function process, with the same environment, its output going to the
    /// same logs: an event sent while another is being handled goes to it.
    pub fn add_instance(&mut self) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cfn-eks-pod-identity"));
        command
            .env_clear()
            .envs(self.standin.function_env())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in &self.env {
            if value.is_empty() {
                command.env_remove(key);
            } else {
                command.env(key, value);
            }
        }
        let mut child = command.spawn().expect("start the function");
        for mut stream in [
            Box::new(child.stdout.take().expect("stdout"))
                as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let logs = self.logs.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buffer).await {
                    if n == 0 {
                        break;
                    }
                    logs.lock().unwrap().extend_from_slice(&buffer[..n]);
                }
            });
        }
        self.children.push(child);
    }

    /// Everything the function printed so far.
    pub fn logs(&self) -> String {
        String::from_utf8_lossy(&self.logs.lock().unwrap()).into_owned()
    }

    /// An event as CloudFormation would send it, with a fresh RequestId whose response lands
    /// in the stand-in's bucket under that id.
    pub fn event(&self, request_type: &str, properties: Value, physical_id: Option<&str>) -> Value {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let request_id = format!("{:08x}-0000-4000-8000-{:012x}", std::process::id(), n);
        let mut event = json!({
            "RequestType": request_type,
            "ServiceToken": Standin::FUNCTION_ARN,
            "ResponseURL": self.standin.response_url(&request_id),
            "StackId": STACK_ID,
            "RequestId": request_id,
            "ResourceType": "Custom::EksPodIdentityAssociation",
            "LogicalResourceId": "PodIdentity",
            "ResourceProperties": properties,
        });
        if let Some(id) = physical_id {
            event["PhysicalResourceId"] = json!(id);
        }
        event
    }

    /// `event` with its ResponseURL signed `ago`: CloudFormation sent it then, and Lambda
    /// handed it over only now (queued while the function was throttled, or run again).
    pub fn sent_ago(&self, mut event: Value, ago: Duration) -> Value {
        let key = event["RequestId"].as_str().unwrap_or_default().to_owned();
        let signed = std::time::SystemTime::now() - ago;
        event["ResponseURL"] = json!(self.standin.response_url_signed_at(&key, signed));
        event
    }

    /// An Update event from `old` to `new` properties.
    pub fn update(&self, physical_id: &str, old: Value, new: Value) -> Value {
        let mut event = self.event("Update", new, Some(physical_id));
        event["OldResourceProperties"] = old;
        event
    }

    /// Invokes the function with `event` and waits for the invocation to end.
    pub async fn invoke(&self, event: &Value, timeout: Duration) -> Outcome {
        let id = self.standin.invoke(event.clone(), timeout);
        self.ended(&id, timeout).await
    }

    /// Waits for invocation `id`, given `timeout`, to end; fails the test, showing the
    /// function's logs, if it does not.
    pub async fn ended(&self, id: &str, timeout: Duration) -> Outcome {
        self.standin
            .wait_for_outcome(id, timeout + Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("invocation {id} did not end; logs:\n{}", self.logs()))
    }

    /// The responses that arrived for `event`.
    pub fn responses(&self, event: &Value) -> Vec<Value> {
        let key = event["RequestId"].as_str().unwrap_or_default();
        self.standin
            .responses(key)
            .iter()
            .map(|put| serde_json::from_slice(&put.body).expect("a JSON response body"))
            .collect()
    }

    /// Sends `event` and returns the one response CloudFormation would get.
    pub async fn send(&self, event: &Value) -> Value {
        self.send_within(event, Duration::from_secs(30)).await
    }

    /// [`Harness::send`], with the function given `timeout` to handle the event.
    pub async fn send_within(&self, event: &Value, timeout: Duration) -> Value {
        let outcome = self.invoke(event, timeout).await;
        let responses = self.responses(event);
        assert_eq!(
            responses.len(),
            1,
            "exactly one response expected; outcome {outcome:?}; logs:\n{}",
            self.logs()
        );
        assert!(
            matches!(outcome, Outcome::Response(_)),
            "the invocation succeeds once the response is delivered: {outcome:?}"
        );
        responses.into_iter().next().unwrap_or_default()
    }

    /// Creates the association of `properties` and returns its ARN.
    pub async fn create(&self, properties: Value) -> String {
        let response = self.send(&self.event("Create", properties, None)).await;
        assert_eq!(response["Status"], "SUCCESS", "{response}");
        response["PhysicalResourceId"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Whether the last invocation ended before its deadline, as the stand-in saw it: from
    /// handing the event out to the function's result, against the invocation's timeout.
    pub fn ended_before_the_deadline(&self) -> bool {
        let Some(record) = self.standin.invocations().pop() else {
            return false;
        };
        match (record.handed_out_at, record.completed_at) {
            (Some(out), Some(done)) => done - out < record.invocation.timeout,
            _ => false,
        }
    }

    /// Makes EKS carry out the next CreatePodIdentityAssociation but lose its answer, and
    /// the answers of the SDK's retries: the function cannot know the association exists.
    pub fn lose_create_answers(&self) {
        let create = || FaultTarget::eks("CreatePodIdentityAssociation");
        self.standin.inject(create(), Fault::ResetAfterHandling, 1);
        self.standin.inject(create(), Fault::Reset, 100);
    }

    /// Waits until EKS has received `n` calls of `operation` (answered or not), at most
    /// `timeout`; whether it has.
    pub async fn wait_for_calls(&self, operation: &str, n: usize, timeout: Duration) -> bool {
        let count = || {
            self.eks_operations()
                .iter()
                .filter(|called| *called == operation)
                .count()
        };
        let give_up = tokio::time::Instant::now() + timeout;
        while count() < n {
            if tokio::time::Instant::now() >= give_up {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// The ARNs of every association the stand-in holds.
    pub fn association_arns(&self) -> Vec<String> {
        self.standin
            .associations()
            .into_iter()
            .map(|a| a.association_arn)
            .collect()
    }

    /// The names of the EKS operations called so far.
    pub fn eks_operations(&self) -> Vec<String> {
        self.standin
            .eks_calls()
            .into_iter()
            .map(|call| call.operation)
            .collect()
    }

    /// The HTTP status of each call of `operation` so far, in order: `None` for one still
    /// being handled, or whose connection a fault reset.
    pub fn statuses_of(&self, operation: &str) -> Vec<Option<u16>> {
        self.standin
            .eks_calls()
            .into_iter()
            .filter(|call| call.operation == operation)
            .map(|call| call.status)
            .collect()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.start_kill();
        }
    }
}

/// EKS's answer when it throttles a call.
pub fn throttled() -> Fault {
    Fault::status(429, "ThrottlingException", "Rate exceeded")
}

/// Asserts a FAILED response whose Reason contains every one of `needles`.
pub fn assert_failed(response: &Value, needles: &[&str]) {
    assert_eq!(response["Status"], "FAILED", "{response}");
    let reason = response["Reason"].as_str().unwrap_or_default();
    for needle in needles {
        assert!(
            reason.contains(needle),
            "Reason {reason:?} lacks {needle:?}"
        );
    }
    let id = response["PhysicalResourceId"].as_str().unwrap_or_default();
    assert!(
        !id.is_empty(),
        "a FAILED response still has a PhysicalResourceId"
    );
}

/// Asserts a SUCCESS response whose attributes (what `Fn::GetAtt` reads) describe the
/// association its PhysicalResourceId names, as the stand-in holds it now.
pub fn assert_attributes(h: &Harness, response: &Value) {
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let arn = response["PhysicalResourceId"].as_str().unwrap_or_default();
    let held = h
        .standin
        .associations()
        .into_iter()
        .find(|a| a.association_arn == arn)
        .unwrap_or_else(|| panic!("no association {arn}"));
    let data = &response["Data"];
    assert_eq!(data["AssociationArn"], arn, "{response}");
    assert_eq!(data["AssociationId"], held.association_id, "{response}");
    assert_eq!(
        data["ExternalId"],
        held.external_id.unwrap_or_default(),
        "{response}"
    );
}
