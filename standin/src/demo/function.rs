//! The Lambda binary as a child process of the demo and the soak: started with
//! the stand-in's environment. For the demo its log lines are shown with a
//! prefix so a person can tell them from the demo's own output, and watched for
//! a leaked response URL; the soak's hundreds of instances write to a file instead.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::bucket::SIGNATURE;

/// Variables passed through from the demo's own environment: logging and
/// backtrace switches a person may want; everything else comes from the stand-in.
const PASSED_THROUGH: [&str; 4] = ["PATH", "RUST_LOG", "RUST_BACKTRACE", "TZ"];

/// Where the function's log lines go.
#[derive(Debug)]
pub enum Logs {
    /// To the console, prefixed, and watched for a leaked response URL.
    Console,
    /// Appended as they are to this file (open it in append mode: several
    /// processes may share it), which the caller can search afterwards.
    File(std::fs::File),
    /// Nowhere.
    Discard,
}

/// The running function.
pub struct Function {
    child: Child,
    leaked: Arc<AtomicBool>,
    pumps: Vec<JoinHandle<()>>,
}

fn pump(
    stream: impl AsyncRead + Unpin + Send + 'static,
    leaked: Arc<AtomicBool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        // Bytes, not str lines: one non-UTF-8 byte must not end the log.
        while let Ok(n) = reader.read_until(b'\n', &mut line).await {
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            if text.contains(SIGNATURE) {
                leaked.store(true, Ordering::SeqCst);
            }
            println!("    [lambda] {}", text.trim_end());
            line.clear();
        }
    })
}

impl Function {
    /// Starts the binary at `path` with a Lambda-like environment `env`.
    pub fn spawn(path: &Path, env: Vec<(String, String)>, logs: Logs) -> std::io::Result<Self> {
        Self::spawn_under(&[], path, env, logs)
    }

    /// Starts the binary at `path` as [`Function::spawn`] does, but run by the
    /// program and arguments in `wrapper` (a profiler: `valgrind --tool=...`).
    pub fn spawn_under(
        wrapper: &[&str],
        path: &Path,
        env: Vec<(String, String)>,
        logs: Logs,
    ) -> std::io::Result<Self> {
        let (stdout, stderr) = match logs {
            Logs::Console => (Stdio::piped(), Stdio::piped()),
            // Handing the file to the child costs no task per stream, which
            // matters with hundreds of instances.
            Logs::File(file) => (Stdio::from(file.try_clone()?), Stdio::from(file)),
            Logs::Discard => (Stdio::null(), Stdio::null()),
        };
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(path);
                command
            }
            None => Command::new(path),
        };
        command
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true);
        for name in PASSED_THROUGH {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        let mut child = command.spawn()?;
        let leaked = Arc::new(AtomicBool::new(false));
        let mut pumps = Vec::new();
        if let Some(out) = child.stdout.take() {
            pumps.push(pump(out, Arc::clone(&leaked)));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(pump(err, Arc::clone(&leaked)));
        }
        Ok(Self {
            child,
            leaked,
            pumps,
        })
    }

    /// Resolves when the process exits (it should not, while the demo runs).
    pub async fn exited(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// The process id, while the process runs (to read its memory use from `/proc`).
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Whether the process has exited already (it should not have, while in use).
    pub fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process and waits for its last log lines to be shown;
    /// returns whether any log line shown held the response URL's signature
    /// (always false for [`Logs::File`], whose file the caller searches itself).
    pub async fn stop(mut self) -> bool {
        let _ = self.child.kill().await;
        for pump in self.pumps.drain(..) {
            let _ = pump.await;
        }
        self.leaked.load(Ordering::SeqCst)
    }
}
