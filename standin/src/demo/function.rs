//! The Lambda binary as a child process of the demo: started with the
//! stand-in's environment, its log lines shown with a prefix so a person can
//! tell them from the demo's own output, and watched for a leaked response URL.

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
    pub fn spawn(path: &Path, env: Vec<(String, String)>) -> std::io::Result<Self> {
        let mut command = Command::new(path);
        command
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
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

    /// Kills the process and waits for its last log lines to be shown;
    /// returns whether any log line held the response URL's signature.
    pub async fn stop(mut self) -> bool {
        let _ = self.child.kill().await;
        for pump in self.pumps.drain(..) {
            let _ = pump.await;
        }
        self.leaked.load(Ordering::SeqCst)
    }
}
