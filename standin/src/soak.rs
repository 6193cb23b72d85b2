//! The load test behind `make soak` and `tests/load.rs`: many processes of the
//! real Lambda binary against one stand-in that fails a share of EKS calls and
//! response PUTs at random, driving many stacks through full lifecycles at
//! once, as CloudFormation and Lambda would. It checks the promises that matter
//! under load: every event answered exactly once, never two associations where
//! the stack expects one, and nothing left once every stack is deleted.

use std::collections::HashSet;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::demo::function::{Function, Logs};
use crate::ids::IdGen;
use crate::{Fault, FaultTarget, Outcome, Standin, FUNCTION_ARN, SIGNATURE};

/// Each invocation's time limit, as configured for the function in Lambda.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long past its time limit an invocation may take to report back before
/// it counts as timed out (its instance may still be starting, on a busy machine).
const OUTCOME_SLACK: Duration = Duration::from_secs(30);

/// Lambda retries an asynchronous invocation that failed up to twice more.
const LAMBDA_RETRIES: usize = 2;

/// How long after the event's first delivery Lambda runs it again: a minute, then two more
/// (Lambda's documented waits). The soak does not wait; it signs the redelivered event's URL
/// that much earlier, so that the function judges the event's age, and whether an earlier
/// run may have acted, as it would on Lambda's retry.
const LAMBDA_RETRY_AFTER: [Duration; LAMBDA_RETRIES] =
    [Duration::from_secs(60), Duration::from_secs(180)];

/// One stack in this many meets an S3 outage at its Create that outlasts the invocation,
/// so that Lambda runs the event again: the redelivery path, at scale.
const OUTAGE_EVERY: usize = 25;

/// The time limit of the invocation that meets that outage (which lasts until it has ended):
/// short, so that the soak need not wait out [`INVOKE_TIMEOUT`] for each.
const OUTAGE_TIMEOUT: Duration = Duration::from_secs(6);

/// One stack in this many is used behind the CDK provider framework, whose function invokes
/// this one and turns its result, or its error, into the answer.
const PROVIDER_EVERY: usize = 10;

/// The provider framework's function, the ServiceToken its events carry.
const FRAMEWORK_ARN: &str =
    "arn:aws:lambda:us-east-1:111122223333:function:soak-ProviderframeworkonEvent-AbC123";

/// The statuses of a response.
const OK: &str = "SUCCESS";
const FAILED: &str = "FAILED";

/// The tag by which the function marks the stack that owns an association.
const STACK_TAG: &str = "cfn-eks-pod-identity/stack-id";
/// The other ownership tag: the stack resource's logical id.
const LOGICAL_ID_TAG: &str = "cfn-eks-pod-identity/logical-id";

/// The events of one stack's full lifecycle: Create, Update in place, Update
/// with replacement and the Delete of the replaced association, a failed
/// Update and its rollback, Delete.
pub const EVENTS_PER_STACK: usize = 7;

/// How big a soak to run.
#[derive(Debug, Clone, PartialEq)]
pub struct SoakOptions {
    /// The compiled Lambda binary.
    pub lambda: PathBuf,
    /// How many function processes to run at once (and stacks in flight at once).
    pub instances: usize,
    /// How many stack lifecycles to drive.
    pub stacks: usize,
    /// The probability that an EKS call or a response PUT meets a fault.
    pub fault_rate: f64,
    /// Where the functions' log lines go (`None`: discarded). The file is
    /// emptied first, and searched afterwards for a leaked response URL.
    pub log: Option<PathBuf>,
}

/// What a soak saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SoakReport {
    /// Function processes run.
    pub instances: usize,
    /// Stack lifecycles driven.
    pub stacks: usize,
    /// CloudFormation events sent (each with its own RequestId).
    pub events: usize,
    /// Invocations of the function, Lambda's redeliveries included.
    pub invocations: usize,
    /// Invocations that were redeliveries of an event after a failed invocation.
    pub redeliveries: usize,
    /// Faults the stand-in injected, on EKS calls and response PUTs together.
    pub faults_injected: usize,
    /// Of those, on response PUTs.
    pub bucket_faults: usize,
    /// EKS calls received.
    pub eks_calls: usize,
    /// EKS calls that failed transiently (throttled, 5xx or reset), so the
    /// function had to retry them.
    pub eks_retries: usize,
    /// Events answered: a response reached the bucket (or, behind the provider framework, the
    /// invocation returned its result or error).
    pub responses: usize,
    /// Events that never got a response.
    pub lost: usize,
    /// Events that got more than one answer: a PUT that differs from the first (a repeat of
    /// the same, after S3 stored it and the answer was lost, is one answer), or behind the
    /// provider framework, any PUT.
    pub duplicate_responses: usize,
    /// Events whose answer was PUT again, the same, after S3 stored it and the reply was lost.
    pub repeated_answers: usize,
    /// Associations a stack owned at a checkpoint that it should not have had
    /// (a second one where it expects one, or one it was never told of).
    pub duplicate_associations: usize,
    /// Associations still there after every stack was deleted.
    pub leftovers: usize,
    /// Function processes that exited while in use.
    pub crashed_instances: usize,
    /// Invocations the function answered more than once (a result or error posted twice).
    pub double_outcomes: usize,
    /// Invocations that answered after their deadline (a response PUT, or a result), which
    /// Lambda would have cut off first: the answer lost, or the event run again.
    pub overran: usize,
    /// Invocations that failed after their answer was stored: Lambda runs the event again,
    /// EKS calls and all, though CloudFormation has its answer.
    pub answered_then_failed: usize,
    /// Log lines, response bodies and invocation errors holding a response URL's signature
    /// (a leaked credential).
    pub leaked_urls: usize,
    /// Steps that answered FAILED, where SUCCESS was expected, because EKS
    /// kept failing with the injected faults through every retry. Their stacks
    /// roll back as CloudFormation would, and are checked like any other: an
    /// honest FAILED is an answer, not a stuck stack.
    pub gave_up: usize,
    /// Steps that did not go as CloudFormation expects: an unexpected status
    /// (with its Reason), a missing answer, a wrong id.
    pub failures: Vec<String>,
    /// Wall time, from starting the stand-in to the last check.
    pub elapsed: Duration,
}

impl SoakReport {
    /// True if every promise held: every event answered exactly once, as the
    /// lifecycle expects, no duplicate or leftover association, no crashed
    /// instance, no leaked response URL.
    pub fn is_clean(&self) -> bool {
        self.lost == 0
            && self.duplicate_responses == 0
            && self.duplicate_associations == 0
            && self.leftovers == 0
            && self.crashed_instances == 0
            && self.double_outcomes == 0
            && self.overran == 0
            && self.answered_then_failed == 0
            && self.leaked_urls == 0
            && self.failures.is_empty()
            && self.gave_up <= self.gave_up_allowed()
    }

    /// How many steps may give up under the injected faults: a tenth of the stacks. A
    /// function that retries rides out a fault rate of a half with a few in a hundred
    /// giving up; one that stopped retrying gives up on a third or more at a fifth.
    pub fn gave_up_allowed(&self) -> usize {
        (self.stacks / 10).max(1)
    }
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.is_clean() {
            "CLEAN"
        } else {
            "NOT CLEAN"
        };
        writeln!(
            f,
            "Soak: {} instances, {} stacks: {verdict} in {:.1} s",
            self.instances,
            self.stacks,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            f,
            "  events       {} ({} invocations, {} of them Lambda redeliveries)",
            self.events, self.invocations, self.redeliveries
        )?;
        writeln!(
            f,
            "  faults       {} injected ({} on EKS calls, {} on response PUTs)",
            self.faults_injected,
            self.faults_injected - self.bucket_faults,
            self.bucket_faults
        )?;
        writeln!(
            f,
            "  EKS calls    {} ({} failed and were retried)",
            self.eks_calls, self.eks_retries
        )?;
        writeln!(
            f,
            "  responses    {}: {} events lost, {} answered more than once ({} PUT again, the same, after a lost reply)",
            self.responses, self.lost, self.duplicate_responses, self.repeated_answers
        )?;
        writeln!(
            f,
            "  leftovers    {} associations; {} duplicate associations",
            self.leftovers, self.duplicate_associations
        )?;
        writeln!(
            f,
            "  instances    {} crashed; {} log lines, answers or errors with a response URL",
            self.crashed_instances, self.leaked_urls
        )?;
        writeln!(
            f,
            "  invocations  {} answered twice; {} answered after their deadline; {} failed after answering",
            self.double_outcomes, self.overran, self.answered_then_failed
        )?;
        write!(
            f,
            "  failures     {} (and {} steps that gave up under faults, then rolled back; at most {})",
            self.failures.len(),
            self.gave_up,
            self.gave_up_allowed()
        )?;
        // A few are enough to start from; the rest are usually alike.
        for failure in self.failures.iter().take(10) {
            write!(f, "\n    {failure}")?;
        }
        Ok(())
    }
}

/// The faults a request may meet: what EKS and S3 answer when they struggle.
fn eks_faults() -> Vec<Fault> {
    vec![
        Fault::status(429, "ThrottlingException", "Rate exceeded"),
        Fault::status(500, "ServerException", "Internal failure"),
        Fault::status(503, "ServiceUnavailableException", "Service unavailable"),
        Fault::Reset,
        // The call took effect and its answer was lost: the function cannot know, and must
        // neither make a second association nor lose track of the first.
        Fault::ResetAfterHandling,
        Fault::Delay(Duration::from_millis(50)),
        Fault::Delay(Duration::from_millis(300)),
    ]
}

fn bucket_faults() -> Vec<Fault> {
    vec![
        Fault::status(500, "InternalError", "We encountered an internal error."),
        Fault::status(503, "SlowDown", "Please reduce your request rate."),
        Fault::Reset,
        // Stored, and the answer lost: the function PUTs the same answer again.
        Fault::ResetAfterHandling,
        Fault::Delay(Duration::from_millis(50)),
        Fault::Delay(Duration::from_millis(300)),
    ]
}

/// The log file, emptied, in append mode so that all processes can share it.
fn open_log(path: &Path) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|file| file.set_len(0).map(|()| file))
        .map_err(|e| format!("cannot open the log {}: {e}", path.display()))
}

/// Runs the soak: starts the stand-in and the function processes, drives every
/// stack's lifecycle, stops the processes and checks what is left.
pub async fn run(options: &SoakOptions) -> Result<SoakReport, String> {
    if options.instances == 0 || !(0.0..=1.0).contains(&options.fault_rate) {
        return Err("a soak needs at least one instance and a fault rate in 0..=1".into());
    }
    let started = Instant::now();
    let standin = Standin::start()
        .await
        .map_err(|e| format!("cannot start the stand-in: {e}"))?;
    let log = options.log.as_deref().map(open_log).transpose()?;
    let mut functions = Vec::with_capacity(options.instances);
    for instance in 0..options.instances {
        let logs = match &log {
            Some(file) => Logs::File(file.try_clone().map_err(|e| e.to_string())?),
            None => Logs::Discard,
        };
        let mut env = standin.function_env();
        // One in ten log all they may (DEBUG, the SDK's and the HTTP stack's too), in Lambda's
        // JSON format, so that the leak check reads what those would write as well.
        if instance % 10 == 1 {
            env.push(("RUST_LOG".into(), "debug".into()));
            env.push(("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()));
        }
        let function = Function::spawn(&options.lambda, env, logs)
            .map_err(|e| format!("cannot start {}: {e}", options.lambda.display()))?;
        functions.push(function);
    }
    standin.inject_random(FaultTarget::any_eks(), options.fault_rate, eks_faults());
    standin.inject_random(FaultTarget::Bucket, options.fault_rate, bucket_faults());

    let stacks = drive(&standin, options.instances, options.stacks).await?;
    // EKS calls still held by an injected delay land before anything is counted.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let crashed_instances = functions
        .iter_mut()
        .map(Function::has_exited)
        .filter(|&exited| exited)
        .count();
    for function in functions {
        function.stop().await;
    }
    let mut report = SoakReport {
        instances: options.instances,
        stacks: options.stacks,
        crashed_instances,
        ..SoakReport::default()
    };
    let stacks_invocations: Vec<(String, String)> = stacks
        .iter()
        .flat_map(|stack| stack.invocations.iter().cloned())
        .collect();
    for stack in stacks {
        // Behind the framework the result is the answer, and a PUT would be a second one.
        for key in &stack.provider_keys {
            let puts = standin.responses(key).len();
            report.events += 1;
            report.responses += 1;
            report.duplicate_responses += usize::from(puts > 0);
        }
        for key in &stack.keys {
            let answers = standin.responses(key);
            // A Reason is read by anyone who can see the stack's events.
            report.leaked_urls += answers
                .iter()
                .filter(|put| String::from_utf8_lossy(&put.body).contains(SIGNATURE))
                .count();
            // A PUT whose answer was lost is sent again, the same: S3 keeps one object, and
            // CloudFormation reads one answer. Another answer is a second response.
            let differ = answers.iter().any(|put| put.body != answers[0].body);
            let answers = answers.len();
            report.events += 1;
            report.responses += usize::from(answers > 0);
            report.lost += usize::from(answers == 0);
            report.duplicate_responses += usize::from(differ);
            report.repeated_answers += usize::from(answers > 1 && !differ);
        }
        report.redeliveries += stack.redeliveries;
        report.duplicate_associations += stack.strays.len();
        report.gave_up += stack.gave_up;
        report.failures.extend(stack.failures);
    }
    let invocations = standin.invocations();
    report.invocations = invocations.len();
    report.double_outcomes = invocations.iter().filter(|i| i.extra_outcomes > 0).count();
    let keys: std::collections::HashMap<&str, &str> = stacks_invocations
        .iter()
        .map(|(id, key)| (id.as_str(), key.as_str()))
        .collect();
    for invocation in &invocations {
        let puts = keys
            .get(invocation.request_id.as_str())
            .map(|key| standin.responses(key))
            .unwrap_or_default();
        let verdict = judge(invocation, &puts);
        report.overran += usize::from(verdict.overran);
        report.answered_then_failed += usize::from(verdict.answered_then_failed);
    }
    report.leaked_urls += invocations
        .iter()
        .filter(|i| match &i.outcome {
            Some(Outcome::Error { message, .. }) => message.contains(SIGNATURE),
            _ => false,
        })
        .count();
    let faults = standin.injected_faults();
    report.faults_injected = faults.len();
    report.bucket_faults = faults.iter().filter(|f| f.request == "Bucket").count();
    let calls = standin.eks_calls();
    report.eks_calls = calls.len();
    report.eks_retries = calls
        .iter()
        .filter(|c| matches!(c.status, None | Some(429) | Some(500..)))
        .count();
    report.leftovers = standin.associations().len();
    if let Some(path) = &options.log {
        let text = std::fs::read(path)
            .map_err(|e| format!("cannot read the log {}: {e}", path.display()))?;
        report.leaked_urls = String::from_utf8_lossy(&text)
            .lines()
            .filter(|line| line.contains(SIGNATURE))
            .count();
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Runs `stacks` lifecycles, `concurrency` at a time: as many as there are
/// instances, so every instance is kept busy without events queueing up.
async fn drive(
    standin: &Standin,
    concurrency: usize,
    stacks: usize,
) -> Result<Vec<StackOutcome>, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(IdGen::new());
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.min(stacks) {
        let (standin, next, ids) = (standin.clone(), Arc::clone(&next), Arc::clone(&ids));
        workers.spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= stacks {
                    return outcomes;
                }
                outcomes.push(Stack::new(&standin, &ids, n).run().await);
            }
        });
    }
    let mut outcomes = Vec::with_capacity(stacks);
    while let Some(joined) = workers.join_next().await {
        outcomes.extend(joined.map_err(|e| format!("a stack task failed: {e}"))?);
    }
    Ok(outcomes)
}

/// What one stack's lifecycle leaves for the report.
#[derive(Debug, Default)]
struct StackOutcome {
    /// The response key of each event sent directly (answered by a PUT there).
    keys: Vec<String>,
    /// The response key of each event sent through the provider framework (answered by
    /// the invocation's result, with no PUT).
    provider_keys: Vec<String>,
    /// Each invocation made, by its request id, with its event's response key.
    invocations: Vec<(String, String)>,
    redeliveries: usize,
    /// Associations owned by the stack that it should not have had.
    strays: HashSet<String>,
    gave_up: usize,
    failures: Vec<String>,
}

/// Why a stack's lifecycle stopped early.
#[derive(Debug)]
enum Stop {
    /// A step answered FAILED after EKS failed it with injected faults every time.
    GaveUp,
    /// Anything else that CloudFormation would not expect.
    Failure(String),
}

impl From<String> for Stop {
    fn from(failure: String) -> Self {
        Stop::Failure(failure)
    }
}

/// The answer CloudFormation took for an event: its first response.
struct Answer {
    status: String,
    physical_id: String,
    reason: String,
}

/// One stack, with one custom resource, as CloudFormation drives it.
struct Stack<'a> {
    standin: &'a Standin,
    ids: &'a IdGen,
    n: usize,
    stack_id: String,
    /// The physical ids CloudFormation knows of and will delete some day, with
    /// the properties it will send along.
    live: Vec<(String, Value)>,
    outcome: StackOutcome,
}

impl<'a> Stack<'a> {
    fn new(standin: &'a Standin, ids: &'a IdGen, n: usize) -> Self {
        Self {
            standin,
            ids,
            n,
            stack_id: format!(
                "arn:aws:cloudformation:us-east-1:111122223333:stack/soak-{n}/{}",
                ids.uuid()
            ),
            live: Vec::new(),
            outcome: StackOutcome::default(),
        }
    }

    /// The lifecycle, then, if it stopped early, the Deletes CloudFormation
    /// would still send for every id it knows of, so that nothing is left.
    async fn run(mut self) -> StackOutcome {
        match self.lifecycle().await {
            Ok(()) => return self.outcome,
            Err(stop) => self.record(stop),
        }
        for (id, properties) in self.live.clone() {
            // A Delete that gave up leaves the stack in DELETE_FAILED, and
            // its owner deletes it again.
            for _ in 0..3 {
                let answer = self.send("Delete", &properties, None, Some(&id)).await;
                match answer
                    .map_err(Stop::from)
                    .and_then(|a| expect("cleanup Delete", OK, a))
                {
                    Ok(_) => break,
                    Err(Stop::GaveUp) => self.record(Stop::GaveUp),
                    Err(stop) => {
                        self.record(stop);
                        break;
                    }
                }
            }
        }
        self.outcome
    }

    fn record(&mut self, stop: Stop) {
        match stop {
            Stop::GaveUp => self.outcome.gave_up += 1,
            Stop::Failure(failure) => self
                .outcome
                .failures
                .push(format!("stack {}: {failure}", self.n)),
        }
    }

    async fn lifecycle(&mut self) -> Result<(), Stop> {
        let ns = format!("stack-{}", self.n);
        let created = properties(&ns, "api", "reader", json!([{"Key": "team", "Value": "a"}]));
        let tags = json!([{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "soak"}]);
        let tuned = properties(&ns, "api", "writer", tags.clone());
        let moved = properties(&ns, "worker", "writer", tags.clone());
        let invalid = properties("Bad_NS", "worker", "writer", tags);

        let id = self.step("Create", OK, &created, None, None).await?;
        let same = self.step("Update in place", OK, &tuned, Some(&created), Some(&id));
        same_id("Update in place", &same.await?, &id)?;
        let new = self.step("Replacement", OK, &moved, Some(&tuned), Some(&id));
        let new = new.await?;
        if new == id {
            return Err(format!("Replacement kept the id {id}").into());
        }
        // The stack update succeeded: its cleanup deletes the old association.
        self.step("Delete of the old", OK, &tuned, None, Some(&id))
            .await?;
        let bad = self.step("Invalid update", FAILED, &invalid, Some(&moved), Some(&new));
        bad.await?;
        // CloudFormation rolls back with the properties swapped.
        let back = self.step("Rollback", OK, &moved, Some(&invalid), Some(&new));
        same_id("Rollback", &back.await?, &new)?;
        self.step("Delete", OK, &moved, None, Some(&new)).await?;
        Ok(())
    }

    /// Sends one event (a Create if there is no physical id, an Update if
    /// there are old properties, else a Delete), expects `status`, then checks
    /// the stack's associations; returns the answer's physical id.
    async fn step(
        &mut self,
        name: &str,
        status: &str,
        properties: &Value,
        old: Option<&Value>,
        physical_id: Option<&str>,
    ) -> Result<String, Stop> {
        let request_type = match (physical_id, old) {
            (None, _) => "Create",
            (Some(_), Some(_)) => "Update",
            (Some(_), None) => "Delete",
        };
        let answer = self.send(request_type, properties, old, physical_id).await;
        let answer = expect(name, status, answer?)?;
        self.check(name)?;
        Ok(answer.physical_id)
    }

    /// Sends one event as CloudFormation would, through Lambda's asynchronous
    /// invoke: a failed invocation is retried with the very same event. The
    /// answer is the first response in the bucket; CloudFormation ignores any
    /// later one (which the report counts). Behind the provider framework (one
    /// stack in [`PROVIDER_EVERY`]) the answer is the invocation's result or
    /// error; an outage stack's Create (one in [`OUTAGE_EVERY`]) is redelivered.
    async fn send(
        &mut self,
        request_type: &str,
        properties: &Value,
        old: Option<&Value>,
        physical_id: Option<&str>,
    ) -> Result<Answer, String> {
        let request_id = self.ids.uuid();
        let key = format!("soak/{}/{request_id}", self.n);
        let outage = request_type == "Create" && self.n % OUTAGE_EVERY == 3;
        let sent = std::time::SystemTime::now();
        // The outage lasts until the first invocation has ended (or the soak has stopped
        // waiting for it), however long the event waited for an instance, so that it stores
        // no answer; a redelivery has the usual limit, as Lambda's retry would.
        if outage {
            let until = Instant::now() + Duration::from_secs(3600);
            self.standin.refuse_uploads_until(&key, until);
        }
        let mut event = json!({
            "RequestType": request_type,
            "ServiceToken": FUNCTION_ARN,
            "ResponseURL": self.standin.response_url_signed_at(&key, sent),
            "StackId": self.stack_id,
            "RequestId": request_id,
            "ResourceType": "Custom::EksPodIdentityAssociation",
            "LogicalResourceId": "PodIdentity",
            "ResourceProperties": properties,
        });
        if let Some(old) = old {
            event["OldResourceProperties"] = old.clone();
        }
        if let Some(id) = physical_id {
            event["PhysicalResourceId"] = json!(id);
        }
        let provider = self.n % PROVIDER_EVERY == 5;
        if provider {
            event["ServiceToken"] = json!(FRAMEWORK_ARN);
            event["ResourceProperties"]["ServiceToken"] = json!(FRAMEWORK_ARN);
            self.outcome.provider_keys.push(key.clone());
        } else {
            self.outcome.keys.push(key.clone());
        }
        let mut last = None;
        for attempt in 0..=LAMBDA_RETRIES {
            if let Some(after) = attempt
                .checked_sub(1)
                .map(|retry| LAMBDA_RETRY_AFTER[retry])
            {
                self.outcome.redeliveries += 1;
                event["ResponseURL"] =
                    json!(self.standin.response_url_signed_at(&key, sent - after));
            }
            let timeout = if outage && attempt == 0 {
                OUTAGE_TIMEOUT
            } else {
                INVOKE_TIMEOUT
            };
            let invocation = self.standin.invoke(event.clone(), timeout);
            self.outcome
                .invocations
                .push((invocation.clone(), key.clone()));
            let outcome = self
                .standin
                .wait_for_outcome(&invocation, timeout + OUTCOME_SLACK)
                .await;
            if outage && attempt == 0 {
                self.standin.refuse_uploads_until(&key, Instant::now());
            }
            // An error or a timeout is what makes Lambda invoke again; behind the framework,
            // an error is the answer (FAILED), and only no outcome at all is invoked again.
            let answered = match &outcome {
                Some(Outcome::Response(_)) => true,
                Some(_) => provider,
                None => false,
            };
            last = outcome;
            if answered {
                break;
            }
        }
        let answer = if provider {
            framework_answer(last, physical_id)
        } else {
            self.standin.responses(&key).first().map(stored_answer)
        };
        let answer = answer.ok_or_else(|| format!("{request_type} {request_id}: no answer"))?;
        self.track(request_type, &answer, properties);
        Ok(answer)
    }

    /// Follows the ids CloudFormation would: a successful Delete forgets its
    /// id; any other id it hears of (a failed Create's too) it will delete one
    /// day, with the properties of the last successful event for it.
    fn track(&mut self, request_type: &str, answer: &Answer, properties: &Value) {
        let id = &answer.physical_id;
        let known = self.live.iter().position(|(live, _)| live == id);
        match (request_type, answer.status.as_str(), known) {
            ("Delete", "SUCCESS", Some(at)) => {
                self.live.remove(at);
            }
            ("Delete", _, _) => {}
            (_, "SUCCESS", Some(at)) => self.live[at].1 = properties.clone(),
            (_, _, None) if !id.is_empty() => self.live.push((id.clone(), properties.clone())),
            _ => {}
        }
    }

    /// The stack must own exactly the associations CloudFormation knows of.
    fn check(&mut self, step: &str) -> Result<(), String> {
        let associations: Vec<crate::Association> = self
            .standin
            .associations()
            .into_iter()
            .filter(|a| a.tags.get(STACK_TAG) == Some(&self.stack_id))
            .collect();
        // Each association CloudFormation knows holds what its last successful event asked.
        for (id, properties) in &self.live {
            let Some(association) = associations.iter().find(|a| a.association_arn == *id) else {
                continue;
            };
            if let Some(difference) = differs(association, properties) {
                return Err(format!("after {step}: {id} {difference}"));
            }
        }
        let owned: Vec<String> = associations
            .into_iter()
            .map(|a| a.association_arn)
            .collect();
        let strays: Vec<&String> = owned
            .iter()
            .filter(|arn| !self.live.iter().any(|(id, _)| id == *arn))
            .collect();
        let missing: Vec<&String> = self
            .live
            .iter()
            .map(|(id, _)| id)
            .filter(|id| !owned.contains(id))
            .collect();
        if strays.is_empty() && missing.is_empty() {
            return Ok(());
        }
        let problem = format!(
            "after {step}: associations not known to CloudFormation {strays:?}, missing {missing:?}"
        );
        self.outcome.strays.extend(strays.into_iter().cloned());
        Err(problem)
    }
}

/// How `association` differs from what `properties` ask of it, if it does: its place, its
/// role, or its tags (the user's, exactly, and both ownership tags).
fn differs(association: &crate::Association, properties: &Value) -> Option<String> {
    let want = |name: &str| properties[name].as_str().unwrap_or_default();
    let mut tags: std::collections::BTreeMap<String, String> = properties["Tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|tag| {
            let text = |name: &str| tag[name].as_str().unwrap_or_default().to_owned();
            (text("Key"), text("Value"))
        })
        .collect();
    for owner_tag in [STACK_TAG, LOGICAL_ID_TAG] {
        match association.tags.get(owner_tag) {
            Some(value) => tags.insert(owner_tag.to_owned(), value.clone()),
            None => return Some(format!("lacks the ownership tag {owner_tag}")),
        };
    }
    if association.namespace != want("Namespace")
        || association.service_account != want("ServiceAccount")
    {
        Some(format!(
            "is at {}/{}, not where its properties place it",
            association.namespace, association.service_account
        ))
    } else if association.role_arn != want("RoleArn") {
        Some(format!(
            "has the role {}, not {}",
            association.role_arn,
            want("RoleArn")
        ))
    } else if association.tags != tags {
        Some(format!("has the tags {:?}, not {tags:?}", association.tags))
    } else {
        None
    }
}

/// The answer the provider framework sends for the function's `outcome`: its result, or
/// FAILED with its error. The framework keeps the event's id for a failed Update or Delete,
/// and answers a failed Create's rollback Delete itself, without calling the function.
fn framework_answer(outcome: Option<Outcome>, physical_id: Option<&str>) -> Option<Answer> {
    match outcome? {
        Outcome::Response(result) => Some(Answer {
            status: OK.into(),
            physical_id: result["PhysicalResourceId"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            reason: String::new(),
        }),
        Outcome::Error { message, .. } => Some(Answer {
            status: FAILED.into(),
            physical_id: physical_id.unwrap_or_default().to_owned(),
            reason: message,
        }),
    }
}

/// The answer in a response the function PUT, as CloudFormation reads it.
fn stored_answer(put: &crate::ReceivedPut) -> Answer {
    let body = put.json().unwrap_or(Value::Null);
    let field = |name: &str| body[name].as_str().unwrap_or_default().to_string();
    Answer {
        status: field("Status"),
        physical_id: field("PhysicalResourceId"),
        reason: field("Reason"),
    }
}

/// What one invocation did wrong, if anything.
#[derive(Debug, Default, PartialEq)]
struct Verdict {
    /// It answered after its deadline: a response PUT, or a result, that Lambda would have
    /// cut off (an error posted late only fails the invocation, which it meant to).
    overran: bool,
    /// It posted an error after its answer was stored.
    answered_then_failed: bool,
}

/// Judges `invocation` by its outcome and `puts`, the responses stored for its event (those
/// between its hand-out and its outcome are its own).
fn judge(invocation: &crate::InvocationRecord, puts: &[crate::ReceivedPut]) -> Verdict {
    let Some(handed_out) = invocation.handed_out_at else {
        return Verdict::default();
    };
    let deadline = handed_out + invocation.invocation.timeout;
    let ended = invocation.completed_at.unwrap_or_else(Instant::now);
    let own: Vec<Instant> = puts
        .iter()
        .map(|put| put.received_at)
        .filter(|at| (handed_out..=ended).contains(at))
        .collect();
    let late_result = matches!(invocation.outcome, Some(Outcome::Response(_))) && ended > deadline;
    let never_ended = invocation.completed_at.is_none() && ended > deadline;
    Verdict {
        overran: late_result || never_ended || own.iter().any(|at| *at > deadline),
        answered_then_failed: matches!(invocation.outcome, Some(Outcome::Error { .. }))
            && !own.is_empty(),
    }
}

/// The template's properties. Each stack has its own namespace, so no two
/// stacks ever want the same service account.
fn properties(namespace: &str, service_account: &str, role: &str, tags: Value) -> Value {
    json!({
        "ServiceToken": FUNCTION_ARN,
        "ClusterName": "soak",
        "Namespace": namespace,
        "ServiceAccount": service_account,
        "RoleArn": format!("arn:aws:iam::111122223333:role/{role}"),
        "Tags": tags,
    })
}

/// `answer` if its status is `status`, else why not: it gave up under the
/// injected faults, or a failure naming the step and the Reason.
fn expect(step: &str, status: &str, answer: Answer) -> Result<Answer, Stop> {
    if answer.status == status {
        Ok(answer)
    } else if status == OK && answer.status == FAILED && names_a_fault(&answer.reason) {
        Err(Stop::GaveUp)
    } else {
        Err(Stop::Failure(format!(
            "{step}: expected {status}, got {:?}: {}",
            answer.status, answer.reason
        )))
    }
}

/// Whether a Reason names one of the EKS faults this soak injects: the
/// function ran out of retries on them, which is the faults' doing.
fn names_a_fault(reason: &str) -> bool {
    eks_faults().iter().any(|fault| match fault {
        Fault::Status { error_type, .. } => reason.contains(error_type.as_str()),
        Fault::Reset | Fault::ResetAfterHandling => reason.contains("Connection reset"),
        _ => false,
    })
}

fn same_id(step: &str, got: &str, want: &str) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{step} changed the id from {want} to {got}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AssociationSpec;

    fn answer(status: &str, physical_id: &str) -> Answer {
        Answer {
            status: status.into(),
            physical_id: physical_id.into(),
            reason: String::new(),
        }
    }

    #[tokio::test]
    async fn a_stack_must_own_exactly_the_ids_cloudformation_knows_of() {
        let standin = Standin::start().await.unwrap();
        let ids = IdGen::new();
        let mut stack = Stack::new(&standin, &ids, 0);
        let props = json!({"Namespace": "stack-0", "ServiceAccount": "api", "RoleArn": "r"});
        assert!(stack.check("nothing yet").is_ok());

        let mut spec = AssociationSpec::new("us-east-1", "soak", "stack-0", "api", "r");
        spec.tags.insert(STACK_TAG.into(), stack.stack_id.clone());
        spec.tags
            .insert(LOGICAL_ID_TAG.into(), "PodIdentity".into());
        let arn = standin.insert_association(spec).unwrap().association_arn;
        assert!(stack.check("a stray").is_err());
        assert_eq!(stack.outcome.strays.len(), 1);

        stack.track("Create", &answer("SUCCESS", &arn), &props);
        assert!(stack.check("its Create").is_ok());
        // What it holds is checked against what its last successful event asked.
        let other_role = json!({"Namespace": "stack-0", "ServiceAccount": "api", "RoleArn": "w"});
        stack.track("Update", &answer("SUCCESS", &arn), &other_role);
        let wrong = stack.check("an update that changed nothing");
        assert!(wrong.is_err_and(|e| e.contains("has the role r")));
        let tagged = json!({"Namespace": "stack-0", "ServiceAccount": "api", "RoleArn": "r",
            "Tags": [{"Key": "team", "Value": "a"}]});
        stack.track("Update", &answer("SUCCESS", &arn), &tagged);
        assert!(stack
            .check("a tag not made")
            .is_err_and(|e| e.contains("tags")));
        stack.track("Update", &answer("SUCCESS", &arn), &props);
        assert!(stack.check("as asked").is_ok());
        // A failed event's new id still gets a Delete; a failed Delete keeps the id.
        stack.track("Update", &answer("FAILED", "invented-id"), &props);
        stack.track("Delete", &answer("FAILED", &arn), &props);
        assert_eq!(stack.live.len(), 2);
        assert!(stack.check("a missing id").is_err());
        stack.track("Delete", &answer("SUCCESS", "invented-id"), &props);
        stack.track("Delete", &answer("SUCCESS", &arn), &props);
        assert!(stack.live.is_empty());
    }

    #[test]
    fn an_invocation_is_judged_by_when_it_answered_and_how_it_ended() {
        let now = Instant::now();
        let at = |secs: u64| now + Duration::from_secs(secs);
        let record = |completed: Option<u64>, outcome: Option<Outcome>| crate::InvocationRecord {
            request_id: "r".into(),
            invocation: crate::Invocation::new(json!({}), Duration::from_secs(30)),
            queued_at: now,
            handed_out_at: Some(now),
            deadline_ms: None,
            outcome,
            completed_at: completed.map(at),
            extra_outcomes: 0,
        };
        let put = |secs: u64| crate::ReceivedPut {
            body: Vec::new(),
            content_type: None,
            content_length: None,
            headers: Vec::new(),
            received_at: at(secs),
        };
        let result = || Some(Outcome::Response(json!(null)));
        let error = || {
            Some(Outcome::Error {
                error_type: "e".into(),
                message: "m".into(),
            })
        };
        let fine = Verdict::default();
        assert_eq!(judge(&record(Some(29), result()), &[put(28)]), fine);
        // Its answer, or its result, after the deadline.
        assert!(judge(&record(Some(32), result()), &[put(31)]).overran);
        assert!(judge(&record(Some(31), result()), &[]).overran);
        // An error posted late only fails the invocation, as it meant to.
        assert_eq!(judge(&record(Some(31), error()), &[]), fine);
        // An error after its answer was stored: Lambda runs the event again.
        assert!(judge(&record(Some(20), error()), &[put(10)]).answered_then_failed);
        // Another invocation's answer, stored before this one began, is not its own.
        let later = crate::InvocationRecord {
            handed_out_at: Some(at(40)),
            completed_at: Some(at(45)),
            ..record(None, error())
        };
        assert_eq!(judge(&later, &[put(10)]), fine);
        // Not answered, its deadline not yet come.
        assert_eq!(judge(&record(None, None), &[]), fine);
    }

    #[test]
    fn only_a_failed_answer_that_names_an_injected_fault_is_giving_up() {
        let failed = |reason: &str| Answer {
            reason: reason.into(),
            ..answer(FAILED, "id")
        };
        let throttled =
            "EKS DescribePodIdentityAssociation failed: ThrottlingException: Rate exceeded";
        let reset =
            "EKS CreatePodIdentityAssociation failed: dispatch failure: Connection reset by peer";
        for reason in [throttled, reset] {
            assert!(matches!(expect("s", OK, failed(reason)), Err(Stop::GaveUp)));
        }
        let invalid = "Namespace: \"Bad_NS\" is not a DNS-1123 label";
        assert!(matches!(
            expect("s", OK, failed(invalid)),
            Err(Stop::Failure(_))
        ));
        // An expected FAILED is fine; a SUCCESS where FAILED was expected is not.
        assert!(expect("s", FAILED, failed(invalid)).is_ok());
        assert!(matches!(
            expect("s", FAILED, answer(OK, "id")),
            Err(Stop::Failure(_))
        ));
    }

    #[test]
    fn a_report_is_clean_only_without_any_problem() {
        let clean = SoakReport {
            events: 7,
            responses: 7,
            stacks: 100,
            gave_up: 10,
            ..SoakReport::default()
        };
        assert!(clean.is_clean());
        assert!(clean.to_string().contains("CLEAN"));
        for dirty in [
            SoakReport {
                lost: 1,
                ..clean.clone()
            },
            SoakReport {
                duplicate_responses: 1,
                ..clean.clone()
            },
            SoakReport {
                duplicate_associations: 1,
                ..clean.clone()
            },
            SoakReport {
                leftovers: 1,
                ..clean.clone()
            },
            SoakReport {
                crashed_instances: 1,
                ..clean.clone()
            },
            SoakReport {
                leaked_urls: 1,
                ..clean.clone()
            },
            SoakReport {
                failures: vec!["stack 0: x".into()],
                ..clean.clone()
            },
            SoakReport {
                double_outcomes: 1,
                ..clean.clone()
            },
            SoakReport {
                overran: 1,
                ..clean.clone()
            },
            SoakReport {
                answered_then_failed: 1,
                ..clean.clone()
            },
            // A function that stopped retrying gives up on many stacks.
            SoakReport {
                gave_up: 11,
                ..clean.clone()
            },
        ] {
            assert!(!dirty.is_clean(), "{dirty:?}");
            assert!(dirty.to_string().contains("NOT CLEAN"));
        }
    }
}
