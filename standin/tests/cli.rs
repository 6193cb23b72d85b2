//! The `cfn-standin` binary: `serve` (and `serve --tls`) prints a usable environment and bad
//! command lines are refused. The demo's full run, with the real function, is
//! tested in the workspace's `tests/demo.rs`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cfn-standin");

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("standin-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn demo_explains_missing_inputs() {
    let root = scratch("missing");
    let out = Command::new(BIN)
        .args(["demo", "--lambda", "/nonexistent/function", "--events"])
        .arg(&root)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("create.json"));
    let bad = Command::new(BIN)
        .args(["serve", "--port", "nope"])
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("usage"));
    let _ = std::fs::remove_dir_all(&root);
}

/// Starts `cfn-standin` with `args` and reads what it prints up to the line on
/// reading a response: the process, its `export` lines (without `export `), and
/// the command on that line.
async fn serve(args: &[&str]) -> (tokio::process::Child, Vec<String>, Option<String>) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut env = Vec::new();
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await
    {
        if let Some(export) = line.strip_prefix("export ") {
            env.push(export.to_string());
        }
        if let Some(command) = line.strip_prefix("# Read the response uploaded there: ") {
            return (child, env, Some(command.to_string()));
        }
    }
    (child, env, None)
}

/// A plain-HTTP GET of `path` at `addr`: the whole answer, head and body.
async fn get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    reply
}

#[tokio::test]
async fn serve_prints_an_environment_that_reaches_it() {
    let (mut child, env, read_line) = serve(&["serve"]).await;
    let response_url = read_line.as_deref().and_then(|command| {
        command
            .strip_prefix("curl '")
            .and_then(|c| c.strip_suffix('\''))
            .map(str::to_string)
    });
    assert!(
        env.contains(&"AWS_LAMBDA_FUNCTION_VERSION='$LATEST'".to_string()),
        "{env:?}"
    );
    let endpoint = env
        .iter()
        .find_map(|l| l.strip_prefix("AWS_ENDPOINT_URL_EKS='"))
        .and_then(|v| v.strip_suffix('\''))
        .expect("EKS endpoint line");
    let addr = endpoint.strip_prefix("http://").unwrap().to_string();
    let reply = get(&addr, "/clusters/c/pod-identity-associations").await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with(r#"{"associations":[]}"#), "{reply}");
    // The response URL it prints is the bucket's, on a port apart from EKS's (a function
    // opens a connection to each, as deployed), and it has nothing yet.
    let response_url = response_url.expect("a line showing how to read a response");
    // The same URL, signed, for the README's by-hand steps.
    assert!(
        env.contains(&format!("STANDIN_RESPONSE_URL='{response_url}'")),
        "{env:?}"
    );
    assert!(response_url.contains("X-Amz-Signature="), "{response_url}");
    let rest = response_url
        .strip_prefix("http://")
        .expect("a plain-HTTP response URL");
    let (bucket, path) = rest.split_at(rest.find('/').expect("a path"));
    assert_ne!(bucket, addr, "the bucket has its own port");
    assert!(path.starts_with("/bucket/my-response?"), "{path}");
    let reply = get(bucket, path).await;
    assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
    assert!(reply.contains("<Code>NoSuchKey</Code>"), "{reply}");
    // Every route is served on both ports: the README's by-hand steps use one.
    let reply = get(&addr, path).await;
    assert!(reply.contains("<Code>NoSuchKey</Code>"), "{reply}");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn serve_tls_prints_https_endpoints_and_the_certificate_to_trust() {
    let (mut child, env, read_line) = serve(&["serve", "--tls"]).await;
    let value = |name: &str| {
        env.iter()
            .find_map(|l| l.strip_prefix(&format!("{name}='")))
            .and_then(|v| v.strip_suffix('\''))
            .unwrap_or_else(|| panic!("no {name} in {env:?}"))
            .to_string()
    };
    let runtime = value("AWS_LAMBDA_RUNTIME_API");
    let port = runtime
        .strip_prefix("127.0.0.1:")
        .expect("the Runtime API on loopback");
    assert_eq!(
        value("AWS_ENDPOINT_URL_EKS"),
        format!("https://localhost:{port}")
    );
    assert_eq!(value("SSL_CERT_FILE"), standin::TLS_CERTIFICATE_FILE);
    assert_eq!(value("AWS_CA_BUNDLE"), standin::TLS_CERTIFICATE_FILE);
    let read_line = read_line.expect("a line showing how to read a response");
    let bucket = read_line
        .strip_prefix(&format!(
            "curl --cacert '{}' 'https://127.0.0.1:",
            standin::TLS_CERTIFICATE_FILE
        ))
        .and_then(|rest| rest.split_once("/bucket/my-response?"))
        .map(|(bucket_port, _)| bucket_port)
        .unwrap_or_else(|| panic!("{read_line}"));
    assert_ne!(bucket, port, "the bucket has its own port");
    // Plain HTTP is served on that port too, as the Runtime API needs.
    let reply = get(&runtime, "/bucket/none").await;
    assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
    child.kill().await.unwrap();
}
