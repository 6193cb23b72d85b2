//! The measurements behind `make bench`: the function next to a floor (a bare
//! `lambda_runtime` function that only PUTs its response), both run as Lambda
//! runs them, through the stand-in's Runtime API, interleaved so that a busy
//! machine slows both alike. It measures cold starts (process start to first
//! `/next` poll, and to the first response at the bucket), warm latency of
//! Create, Update and Delete (event handed out to response at the bucket),
//! peak and allocated memory after 1,000 events, whether the latter grows over
//! thousands (a leak check), and the arm64 bootstrap size.
//! These are figures to compare, not assertions: [`Report`] shows each goal
//! and whether it was met.
//!
//! Both programs run from fresh copies (`Unpacked`), written the way Lambda
//! unpacks a deployment package, not from the files the linker wrote: those
//! fault their pages in differently, in smaller pieces (the same binaries, four
//! runs each: init 2.4–2.7 ms from the linker's file and 1.9–2.1 ms from a
//! copy; the floor 1.9–2.2 and 1.8–2.0 ms), and no deployed function runs
//! from a linker's output.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::demo::function::{Function, Logs};
use crate::ids::IdGen;
use crate::{Outcome, Standin, FUNCTION_ARN};

/// Each invocation's time limit: far above any event's latency, so the
/// function's own deadline handling never shapes a measurement.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long past its time limit an invocation may take to report back.
const OUTCOME_SLACK: Duration = Duration::from_secs(30);

/// The events at each end of the warm run whose memory use is compared.
const WINDOW: usize = 100;

/// How much more than the floor's our allocated memory may grow between the
/// first and the last [`WINDOW`] events and still count as flat. It is
/// compared with the floor's because the floor grows too: `lambda_runtime`
/// sets `_X_AMZN_TRACE_ID` with `std::env::set_var` for every invocation, and
/// glibc's `setenv` never frees the value it replaces (about 180 bytes an
/// event). The slack covers how differently the two heaps absorb that at
/// first (up to 70 KiB, not growing with the events); over the default 3,000
/// events it still catches a leak of 50 bytes an event.
const FLAT_SLACK_KIB: f64 = 128.0;

/// What to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchOptions {
    /// Our function's binary, built for this machine.
    pub function: PathBuf,
    /// The floor's binary, built for this machine.
    pub floor: PathBuf,
    /// Our function's arm64 `bootstrap`, for its size.
    pub bootstrap: PathBuf,
    /// The floor's arm64 `bootstrap`, if built.
    pub floor_bootstrap: Option<PathBuf>,
    /// Fresh starts of each program.
    pub cold_starts: usize,
    /// Create, Update, Delete cycles on one warm process of each program.
    pub cycles: usize,
    /// Recorded in the JSON report, e.g. the commit measured.
    pub label: Option<String>,
    /// EKS and the bucket over HTTPS, as a deployed function reaches them
    /// ([`Standin::start_tls`]), rather than plain HTTP.
    pub tls: bool,
}

/// What a goal asks of our figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// No goal: the figure is there to read.
    None,
    /// Ours at most this many times the floor's.
    RatioAtMost(f64),
    /// Ours at most this much (in the row's unit) above the floor's.
    OverheadAtMost(f64),
    /// Ours at most this much, in the row's unit.
    AtMost(f64),
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// A stable name for comparing reports across commits.
    pub key: String,
    /// What a person reads.
    pub metric: String,
    /// The unit of `ours` and `floor`.
    pub unit: &'static str,
    /// Our figure.
    pub ours: Option<f64>,
    /// The floor's figure.
    pub floor: Option<f64>,
    /// What ours should be.
    pub goal: Goal,
}

impl Row {
    /// Ours over the floor's, when both are there and the floor's is not zero.
    pub fn ratio(&self) -> Option<f64> {
        match (self.ours, self.floor) {
            (Some(ours), Some(floor)) if floor > 0.0 => Some(ours / floor),
            _ => None,
        }
    }

    /// Whether the goal was met; `None` without a goal or the figures it needs.
    pub fn met(&self) -> Option<bool> {
        match self.goal {
            Goal::None => None,
            Goal::RatioAtMost(most) => self.ratio().map(|r| r <= most),
            Goal::OverheadAtMost(most) => Some(self.ours? - self.floor? <= most),
            Goal::AtMost(most) => self.ours.map(|ours| ours <= most),
        }
    }

    fn goal_text(&self) -> String {
        match self.goal {
            Goal::None => String::new(),
            Goal::RatioAtMost(most) => format!("≤ {most}× floor"),
            Goal::OverheadAtMost(most) => format!("≤ floor + {most} {}", self.unit),
            Goal::AtMost(most) => format!("≤ {most} {}", self.unit),
        }
    }
}

/// Everything measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// From [`BenchOptions::label`].
    pub label: Option<String>,
    /// From [`BenchOptions::tls`].
    pub tls: bool,
    /// Fresh starts per program.
    pub cold_starts: usize,
    /// Warm events of each type per program.
    pub warm_events: usize,
    /// Events the warm process of each program handled in all.
    pub total_events: usize,
    /// The figures.
    pub rows: Vec<Row>,
}

impl Report {
    /// The report as JSON, one object per row under `rows`.
    pub fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                json!({
                    "key": row.key,
                    "metric": row.metric,
                    "unit": row.unit,
                    "ours": row.ours,
                    "floor": row.floor,
                    "ratio": row.ratio(),
                    "goal": row.goal_text(),
                    "met": row.met(),
                })
            })
            .collect();
        json!({
            "label": self.label,
            "tls": self.tls,
            "cold_starts": self.cold_starts,
            "warm_events_per_type": self.warm_events,
            "total_events": self.total_events,
            "rows": rows,
        })
    }
}

fn figure(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_string(), |v| format!("{v:.2}"))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = vec![[
            "metric".to_string(),
            "ours".to_string(),
            "floor".to_string(),
            "ratio".to_string(),
            "goal".to_string(),
            "met?".to_string(),
        ]];
        for row in &self.rows {
            let met = match row.met() {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "",
            };
            lines.push([
                format!("{} ({})", row.metric, row.unit),
                figure(row.ours),
                figure(row.floor),
                row.ratio().map_or_else(String::new, |r| format!("{r:.2}×")),
                row.goal_text(),
                met.to_string(),
            ]);
        }
        let mut widths = [0; 6];
        for line in &lines {
            for (width, cell) in widths.iter_mut().zip(line) {
                *width = (*width).max(cell.chars().count());
            }
        }
        writeln!(
            f,
            "{} cold starts; {} warm events of each type; the leak check over {} events; EKS and the bucket over {}",
            self.cold_starts,
            self.warm_events,
            self.total_events,
            if self.tls { "HTTPS" } else { "plain HTTP" }
        )?;
        for (at, line) in lines.iter().enumerate() {
            let cells: Vec<String> = line
                .iter()
                .zip(widths)
                .enumerate()
                .map(|(column, (cell, width))| {
                    // Figures line up on the right, words on the left.
                    if (1..=3).contains(&column) {
                        format!("{cell:>width$}")
                    } else {
                        format!("{cell:<width$}")
                    }
                })
                .collect();
            writeln!(f, "| {} |", cells.join(" | "))?;
            // A Markdown table, so that it can be pasted into a review as it is.
            if at == 0 {
                let rules: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
                writeln!(f, "| {} |", rules.join(" | "))?;
            }
        }
        Ok(())
    }
}

/// A statistic of samples, which it may sort.
type Stat = fn(&mut [f64]) -> Option<f64>;

fn median(samples: &mut [f64]) -> Option<f64> {
    percentile(samples, 0.5)
}

fn p99(samples: &mut [f64]) -> Option<f64> {
    percentile(samples, 0.99)
}

fn max(samples: &mut [f64]) -> Option<f64> {
    percentile(samples, 1.0)
}

/// The nearest-rank `p` percentile of `samples` (sorted here).
fn percentile(samples: &mut [f64], p: f64) -> Option<f64> {
    samples.sort_by(f64::total_cmp);
    let rank = (p * samples.len() as f64).ceil() as usize;
    samples.get(rank.saturating_sub(1)).copied()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A process's memory, in KiB, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Memory {
    /// `VmHWM`: the peak resident set.
    peak: u64,
    /// `RssAnon`: resident memory the process allocated, as opposed to
    /// file-backed pages (its code, shared with the page cache), which is
    /// where a leak would show.
    anon: u64,
}

fn parse_status(status: &str) -> Option<Memory> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    };
    Some(Memory {
        peak: field("VmHWM:")?,
        anon: field("RssAnon:")?,
    })
}

/// The memory of a running process.
fn memory(pid: u32) -> Result<Memory, String> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    parse_status(&text).ok_or_else(|| format!("{path} has no VmHWM or RssAnon"))
}

/// The template's properties before and after an in-place Update (role, tags
/// and target role change; the service account stays).
fn properties(updated: bool) -> Value {
    let (role, env) = if updated {
        ("payments-api-v2", "prod")
    } else {
        ("payments-api", "dev")
    };
    let mut properties = json!({
        "ServiceToken": FUNCTION_ARN,
        "ClusterName": "bench",
        "Namespace": "payments",
        "ServiceAccount": "api",
        "RoleArn": format!("arn:aws:iam::111122223333:role/{role}"),
        "Tags": [{"Key": "team", "Value": "payments"}, {"Key": "env", "Value": env}],
    });
    if updated {
        properties["TargetRoleArn"] = json!("arn:aws:iam::444455556666:role/payments-data");
    }
    properties
}

/// One CloudFormation event, with a fresh RequestId that is also its response's key.
pub(crate) fn event(
    standin: &Standin,
    ids: &IdGen,
    kind: &str,
    physical_id: Option<&str>,
) -> Value {
    let request_id = ids.uuid();
    let mut event = json!({
        "RequestType": kind,
        "ServiceToken": FUNCTION_ARN,
        "ResponseURL": standin.response_url(&request_id),
        "StackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/bench/5b6d9e40",
        "RequestId": request_id,
        "ResourceType": "Custom::EksPodIdentityAssociation",
        "LogicalResourceId": "PodIdentity",
        "ResourceProperties": properties(kind != "Create"),
    });
    if kind == "Update" {
        event["OldResourceProperties"] = properties(false);
    }
    if let Some(id) = physical_id {
        event["PhysicalResourceId"] = json!(id);
    }
    event
}

/// One event's answer, as the bucket and the Runtime API saw it.
pub(crate) struct Answer {
    pub(crate) physical_id: String,
    handed_out_at: Instant,
    received_at: Instant,
}

/// Invokes the function behind `standin` with `event` and waits for its
/// answer, which must be a SUCCESS: a failure path is not what is measured.
pub(crate) async fn send(standin: &Standin, event: Value) -> Result<Answer, String> {
    let key = event["RequestId"].as_str().unwrap_or_default().to_string();
    let kind = event["RequestType"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let request_id = standin.invoke(event, INVOKE_TIMEOUT);
    let outcome = standin
        .wait_for_outcome(&request_id, INVOKE_TIMEOUT + OUTCOME_SLACK)
        .await;
    if !matches!(outcome, Some(Outcome::Response(_))) {
        return Err(format!("{kind}: the invocation ended with {outcome:?}"));
    }
    let handed_out_at = standin
        .invocation(&request_id)
        .and_then(|record| record.handed_out_at)
        .ok_or_else(|| format!("{kind}: the invocation was never handed out"))?;
    let put = standin
        .responses(&key)
        .into_iter()
        .next()
        .ok_or_else(|| format!("{kind}: no response reached the bucket"))?;
    let body = put.json().unwrap_or(Value::Null);
    if body["Status"] != "SUCCESS" {
        return Err(format!("{kind}: expected SUCCESS, got {body}"));
    }
    Ok(Answer {
        physical_id: body["PhysicalResourceId"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        handed_out_at,
        received_at: put.received_at,
    })
}

fn start(standin: &Standin, path: &Path) -> Result<Function, String> {
    Function::spawn(path, standin.function_env(), Logs::Discard)
        .map_err(|e| format!("cannot start {}: {e}", path.display()))
}

async fn standin(tls: bool) -> Result<Standin, String> {
    let started = if tls {
        Standin::start_tls().await
    } else {
        Standin::start().await
    };
    started.map_err(|e| format!("cannot start the stand-in: {e}"))
}

/// One fresh start, on its own stand-in so that its first poll is unambiguous:
/// (process start → first `/next`, process start → first response), in ms.
async fn cold_start(path: &Path, ids: &IdGen, tls: bool) -> Result<(f64, f64), String> {
    let standin = standin(tls).await?;
    // Queued first: Lambda starts a process because an event is waiting.
    let waiting = event(&standin, ids, "Create", None);
    let started = Instant::now();
    let function = start(&standin, path)?;
    let answer = send(&standin, waiting).await;
    function.stop().await;
    let answer = answer?;
    let first_poll = standin
        .polls()
        .first()
        .copied()
        .ok_or("the function never polled")?;
    Ok((
        ms(first_poll.saturating_duration_since(started)),
        ms(answer.received_at.saturating_duration_since(started)),
    ))
}

/// One warm process and what it was measured at.
struct Warm {
    standin: Standin,
    function: Function,
    pid: u32,
    physical_id: Option<String>,
    /// Latency in ms, per event type (Create, Update, Delete).
    latency: [Vec<f64>; 3],
    /// RssAnon in KiB after each event.
    anon: Vec<f64>,
    /// VmHWM and RssAnon after the [`PEAK_AFTER`]th event.
    at_peak_after: Option<Memory>,
}

/// After how many events (the warm-up's included) peak memory is read, as issue 5 asks:
/// both processes' resident memory creeps up with every event (`lambda_runtime`'s
/// `set_var`), so a later reading would pull the ratio towards 1.
const PEAK_AFTER: usize = 1000;

impl Warm {
    async fn start(path: &Path, tls: bool) -> Result<Warm, String> {
        let standin = standin(tls).await?;
        let function = start(&standin, path)?;
        let pid = function
            .id()
            .ok_or_else(|| format!("{} exited at once", path.display()))?;
        Ok(Warm {
            standin,
            function,
            pid,
            physical_id: None,
            latency: Default::default(),
            anon: Vec::new(),
            at_peak_after: None,
        })
    }

    /// Sends event type `kind` (0 Create, 1 Update, 2 Delete) of the resource's lifecycle.
    async fn step(&mut self, ids: &IdGen, kind: usize, measured: bool) -> Result<(), String> {
        let name = ["Create", "Update", "Delete"][kind];
        let event = event(&self.standin, ids, name, self.physical_id.as_deref());
        let answer = send(&self.standin, event).await?;
        self.physical_id = (kind < 2).then_some(answer.physical_id);
        if measured {
            let latency = answer
                .received_at
                .saturating_duration_since(answer.handed_out_at);
            self.latency[kind].push(ms(latency));
        }
        let now = memory(self.pid)?;
        self.anon.push(now.anon as f64);
        if self.anon.len() == PEAK_AFTER {
            self.at_peak_after = Some(now);
        }
        Ok(())
    }

    /// Stops the process; returns its VmHWM and RssAnon in MiB after [`PEAK_AFTER`]
    /// events (or at the end, if it ran fewer), and the growth of its median RssAnon in
    /// KiB from the first to the last [`WINDOW`] events of all it ran.
    async fn finish(self) -> Result<[f64; 3], String> {
        let end = match self.at_peak_after {
            Some(memory) => memory,
            None => memory(self.pid)?,
        };
        self.function.stop().await;
        let mut first = self.anon.iter().take(WINDOW).copied().collect::<Vec<_>>();
        let mut last = self
            .anon
            .iter()
            .rev()
            .take(WINDOW)
            .copied()
            .collect::<Vec<_>>();
        let (first, last) = (median(&mut first), median(&mut last));
        let growth = last.zip(first).map_or(0.0, |(last, first)| last - first);
        let mib = |kib: u64| kib as f64 / 1024.0;
        Ok([mib(end.peak), mib(end.anon), growth])
    }
}

/// The two programs as a Lambda sandbox holds them: copied into a directory of
/// their own with plain writes, as a deployment package is unpacked, and
/// executable. The directory goes when this does.
#[derive(Debug)]
struct Unpacked {
    dir: PathBuf,
    /// Our function's copy.
    function: PathBuf,
    /// The floor's copy.
    floor: PathBuf,
}

impl Unpacked {
    /// Copies `function` and `floor` into a new directory under the system's
    /// temporary directory.
    fn new(function: &Path, floor: &Path) -> Result<Unpacked, String> {
        let dir = std::env::temp_dir().join(format!("cfn-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut unpacked = Unpacked {
            dir,
            function: PathBuf::new(),
            floor: PathBuf::new(),
        };
        unpacked.function = unpacked.copy(function, "function")?;
        unpacked.floor = unpacked.copy(floor, "floor")?;
        Ok(unpacked)
    }

    fn copy(&self, program: &Path, name: &str) -> Result<PathBuf, String> {
        use std::os::unix::fs::PermissionsExt;
        let to = self.dir.join(name);
        // Read and written whole, not `fs::copy`, whose in-kernel copy is not
        // how a package is unpacked.
        let bytes = std::fs::read(program).map_err(|e| format!("{}: {e}", program.display()))?;
        std::fs::write(&to, bytes).map_err(|e| format!("{}: {e}", to.display()))?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("{}: {e}", to.display()))?;
        Ok(to)
    }
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn size_mb(path: &Path) -> Result<f64, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(meta.len() as f64 / 1e6)
}

/// The event types of a lifecycle, in order.
const KINDS: [&str; 3] = ["Create", "Update", "Delete"];

/// Runs every measurement, ours and the floor's interleaved.
pub async fn run(options: &BenchOptions) -> Result<Report, String> {
    let ids = IdGen::new();
    let unpacked = Unpacked::new(&options.function, &options.floor)?;
    let programs = [&unpacked.function, &unpacked.floor];
    let bootstrap = [
        Some(size_mb(&options.bootstrap)?),
        options
            .floor_bootstrap
            .as_deref()
            .map(size_mb)
            .transpose()?,
    ];

    // One start each first, unmeasured, so that reading the binary from disk is not counted.
    let mut init = [Vec::new(), Vec::new()];
    let mut total = [Vec::new(), Vec::new()];
    for round in 0..=options.cold_starts {
        for (at, program) in programs.iter().enumerate() {
            let (to_poll, to_response) = cold_start(program, &ids, options.tls).await?;
            if round > 0 {
                init[at].push(to_poll);
                total[at].push(to_response);
            }
        }
    }

    let mut warm = [
        Warm::start(&unpacked.function, options.tls).await?,
        Warm::start(&unpacked.floor, options.tls).await?,
    ];
    // Cycle 0 warms up connections and is not measured (its memory counts).
    for cycle in 0..=options.cycles {
        for kind in 0..KINDS.len() {
            for process in &mut warm {
                process.step(&ids, kind, cycle > 0).await?;
            }
        }
    }
    let total_events = warm[0].anon.len();
    let latency = warm.each_ref().map(|w| w.latency.clone());
    let [ours, floor] = warm;
    let [ours_peak, ours_anon, ours_growth] = ours.finish().await?;
    let [floor_peak, floor_anon, floor_growth] = floor.finish().await?;

    let mut rows = vec![
        stat(
            "init_median",
            "init: start → first /next, median",
            &init,
            median,
            Goal::RatioAtMost(1.5),
        ),
        stat(
            "init_max",
            "init: start → first /next, max",
            &init,
            max,
            Goal::None,
        ),
        stat(
            "cold_total_median",
            "cold total: start → response, median",
            &total,
            median,
            Goal::RatioAtMost(1.3),
        ),
        stat(
            "cold_total_max",
            "cold total: start → response, max",
            &total,
            max,
            Goal::None,
        ),
    ];
    for (k, name) in KINDS.into_iter().enumerate() {
        let samples = [latency[0][k].clone(), latency[1][k].clone()];
        let key = name.to_lowercase();
        let metric = format!("warm {name}: /next → response");
        rows.push(stat(
            format!("{key}_median"),
            format!("{metric}, median"),
            &samples,
            median,
            Goal::OverheadAtMost(1.0),
        ));
        rows.push(stat(
            format!("{key}_p99"),
            format!("{metric}, p99"),
            &samples,
            p99,
            Goal::None,
        ));
    }
    rows.push(figure_row(
        "peak_memory",
        format!(
            "peak memory (VmHWM) after {} events",
            PEAK_AFTER.min(total_events)
        ),
        "MiB",
        [Some(ours_peak), Some(floor_peak)],
        Goal::RatioAtMost(1.5),
    ));
    rows.push(figure_row(
        "anon_memory",
        "of which allocated (RssAnon)",
        "MiB",
        [Some(ours_anon), Some(floor_anon)],
        Goal::None,
    ));
    rows.push(figure_row(
        "anon_growth",
        "RssAnon growth, first → last 100 events",
        "KiB",
        [Some(ours_growth), Some(floor_growth)],
        Goal::OverheadAtMost(FLAT_SLACK_KIB),
    ));
    rows.push(figure_row(
        "bootstrap_size",
        "arm64 bootstrap, stripped",
        "MB",
        bootstrap,
        Goal::AtMost(8.0),
    ));

    Ok(Report {
        label: options.label.clone(),
        tls: options.tls,
        cold_starts: options.cold_starts,
        warm_events: options.cycles,
        total_events,
        rows,
    })
}

/// A row of a statistic, in ms, of ours and the floor's samples.
fn stat(
    key: impl Into<String>,
    metric: impl Into<String>,
    samples: &[Vec<f64>; 2],
    stat: Stat,
    goal: Goal,
) -> Row {
    let [mut ours, mut floor] = samples.clone();
    figure_row(key, metric, "ms", [stat(&mut ours), stat(&mut floor)], goal)
}

/// A row of ours and the floor's figures.
fn figure_row(
    key: impl Into<String>,
    metric: impl Into<String>,
    unit: &'static str,
    [ours, floor]: [Option<f64>; 2],
    goal: Goal,
) -> Row {
    Row {
        key: key.into(),
        metric: metric.into(),
        unit,
        ours,
        floor,
        goal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_run_from_executable_copies_that_go_with_the_bench() {
        let here = std::env::temp_dir().join(format!("cfn-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&here).unwrap();
        let (function, floor) = (here.join("f"), here.join("g"));
        std::fs::write(&function, b"function bytes").unwrap();
        std::fs::write(&floor, b"floor bytes").unwrap();
        let unpacked = Unpacked::new(&function, &floor).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            assert_ne!(unpacked.function, function);
            assert_eq!(
                std::fs::read(&unpacked.function).unwrap(),
                b"function bytes"
            );
            assert_eq!(std::fs::read(&unpacked.floor).unwrap(), b"floor bytes");
            let mode = std::fs::metadata(&unpacked.function)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o111, 0o111, "not executable: {mode:o}");
        }
        let copy = unpacked.function.clone();
        drop(unpacked);
        assert!(!copy.exists());
        assert!(Unpacked::new(&here.join("missing"), &floor).is_err());
        std::fs::remove_dir_all(&here).unwrap();
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut samples: Vec<f64> = (1..=200).rev().map(f64::from).collect();
        assert_eq!(median(&mut samples), Some(100.0));
        assert_eq!(p99(&mut samples), Some(198.0));
        assert_eq!(max(&mut samples), Some(200.0));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn reads_peak_and_resident_memory_from_proc_status() {
        let status =
            "Name:\tbootstrap\nVmHWM:\t  12345 kB\nVmRSS:\t  12000 kB\nRssAnon:\t  1500 kB\n";
        let expected = Memory {
            peak: 12345,
            anon: 1500,
        };
        assert_eq!(parse_status(status), Some(expected));
        assert_eq!(parse_status("VmHWM:\t1 kB\n"), None);
        let own = memory(std::process::id()).unwrap();
        assert!(own.peak >= own.anon && own.anon > 0);
    }

    #[test]
    fn goals_compare_ours_with_the_floor() {
        let row = |ours, floor, goal| Row {
            key: "k".into(),
            metric: "m".into(),
            unit: "ms",
            ours,
            floor,
            goal,
        };
        assert_eq!(
            row(Some(3.0), Some(2.0), Goal::RatioAtMost(1.5)).met(),
            Some(true)
        );
        assert_eq!(
            row(Some(3.1), Some(2.0), Goal::RatioAtMost(1.5)).met(),
            Some(false)
        );
        assert_eq!(
            row(Some(2.9), Some(2.0), Goal::OverheadAtMost(1.0)).met(),
            Some(true)
        );
        assert_eq!(
            row(Some(3.1), Some(2.0), Goal::OverheadAtMost(1.0)).met(),
            Some(false)
        );
        assert_eq!(row(Some(9.0), None, Goal::AtMost(8.0)).met(), Some(false));
        assert_eq!(
            row(Some(1.0), Some(0.0), Goal::RatioAtMost(1.5)).met(),
            None
        );
        assert_eq!(row(Some(1.0), Some(1.0), Goal::None).met(), None);

        let report = Report {
            label: None,
            tls: false,
            cold_starts: 1,
            warm_events: 1,
            total_events: 6,
            rows: vec![row(Some(3.0), Some(2.0), Goal::RatioAtMost(1.3))],
        };
        let table = report.to_string();
        assert!(
            table.contains("| m (ms) | 3.00 |  2.00 | 1.50× | ≤ 1.3× floor | NO   |"),
            "{table}"
        );
        assert_eq!(report.to_json()["rows"][0]["met"], json!(false));
    }
}
