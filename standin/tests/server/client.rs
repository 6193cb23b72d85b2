//! A deliberately small HTTP/1.1 client over a raw TCP stream: every byte
//! sent is visible in the test, and the stand-in is exercised by something
//! it shares no code with.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The path and query of a presigned PUT URL for `key`, as the stand-in signs them (S3
/// refuses an upload without its query).
pub fn signed(key: &str) -> String {
    standin::presigned_url("", key)
}

/// A parsed response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics in the test if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// SigV4-looking Authorization header for `region`.
pub fn auth(region: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261130/{region}/eks/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=0000"
    )
}

/// Writes raw request bytes and reads the whole answer (the request must say
/// `Connection: close`).
pub async fn raw(addr: SocketAddr, request: &[u8]) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request).await?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await?;
    Ok(parse(&bytes))
}

/// [`raw`] over TLS to the server `name`, trusting only the stand-in's certificate.
pub async fn raw_tls(addr: SocketAddr, name: &str, request: &[u8]) -> std::io::Result<Reply> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};
    let certificate = CertificateDer::from_pem_file(standin::TLS_CERTIFICATE_FILE)
        .expect("the stand-in's certificate file");
    let mut roots = RootCertStore::empty();
    roots.add(certificate).expect("a usable certificate");
    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_owned()).expect("a server name");
    let mut stream = connector.connect(name, tcp).await?;
    stream.write_all(request).await?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await?;
    Ok(parse(&bytes))
}

/// One request's bytes, for `host`, ending the connection after it; a body
/// gets a Content-Length.
pub fn request(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    bytes
}

/// Sends one request; a body gets a Content-Length.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    let bytes = request(&addr.to_string(), method, path, headers, body);
    raw(addr, &bytes).await.expect("request failed")
}

/// An EKS call signed (in appearance) for `region` with a JSON body.
pub async fn eks(
    addr: SocketAddr,
    region: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Reply {
    let auth = auth(region);
    let body = body.map(|b| b.to_string());
    send(
        addr,
        method,
        path,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.as_deref().map(str::as_bytes),
    )
    .await
}

fn parse(bytes: &[u8]) -> Reply {
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(bytes)));
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    assert!(
        !headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")),
        "this client does not decode chunked bodies"
    );
    Reply {
        status,
        headers,
        body: bytes[split + 4..].to_vec(),
    }
}
