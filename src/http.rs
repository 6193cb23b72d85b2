//! The one HTTP client of the process, used both for the response PUT and, through
//! [`SdkHttpClient`], by the AWS SDK for its EKS calls.
//!
//! One client means one TLS stack, one crypto provider and one trust store in the binary
//! rather than two (the SDK's default client brings its own hyper, rustls and a read of the
//! system's certificates), which is most of what separated this function's cold start, size
//! and memory from a bare Lambda function (`make bench`).

use crate::delivery::ResponseUrl;
use crate::dns::Resolver;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tracing::warn;

/// How long a TCP and TLS connection may take to open, for EKS and S3 alike.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Builds the process's HTTP client, looking host names up through `resolver` and trusting
/// also the certificates in the PEM file that `SSL_CERT_FILE` names, if it does.
pub fn client(
    resolver: Arc<Resolver>,
) -> Result<reqwest::Client, Box<dyn std::error::Error + Send + Sync>> {
    let extra = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    client_trusting(extra.as_deref(), resolver)
}

/// Builds the process's HTTP client, which looks host names up through `resolver`.
///
/// Its trust store is the compiled-in Mozilla root set rather than the system's: the hosts it
/// talks to are AWS endpoints (EKS, S3), whose roots it holds, and reading the system's
/// certificates cost about 7 ms of every cold start. The certificates in `extra` are added,
/// for an endpoint behind a private certificate authority. A file that cannot be read, or a
/// certificate in it that cannot be used, is logged and skipped rather than failing the
/// start-up: a function that does not start answers no event, and leaves every stack waiting.
pub fn client_trusting(
    extra: Option<&Path>,
    resolver: Arc<Resolver>,
) -> Result<reqwest::Client, Box<dyn std::error::Error + Send + Sync>> {
    Ok(builder(extra, resolver)?.build()?)
}

/// [`client_trusting`]'s client, not yet built (tests pin a host's address on it).
fn builder(
    extra: Option<&Path>,
    resolver: Arc<Resolver>,
) -> Result<reqwest::ClientBuilder, Box<dyn std::error::Error + Send + Sync>> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra {
        add_certificates(&mut roots, path);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(CONNECT_TIMEOUT)
        .dns_resolver(resolver)
        .redirect(redirect_policy())
        // reqwest names the URL it was redirected from in a Referer header, query included:
        // a followed redirect would hand the presigned URL's credential to the next host.
        .referer(false))
}

/// The redirects the client follows: a 307 or 308, which keep the method and the body, to
/// https on a host in an AWS partition's domain, as [`ResponseUrl`] requires of the
/// ResponseURL itself (S3 answers a new bucket's global name with a 307 to its region while
/// the name propagates); three at most. reqwest's default follows up to ten to any host, http
/// included, and a 301, 302 or 303 as a GET, whose 200 would pass for a stored response. A
/// redirect not followed is the answer, and no delivery. (EKS does not redirect.)
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if follows(
            attempt.status().as_u16(),
            attempt.url().as_str(),
            attempt.previous().len(),
        ) {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// Whether [`redirect_policy`] follows a redirect with `status` to `location`, when the
/// chain has already requested `requested` URLs (the first redirect's count is 1: the
/// request's own URL).
fn follows(status: u16, location: &str, requested: usize) -> bool {
    let keeps_the_put = matches!(status, 307 | 308);
    keeps_the_put && requested <= 3 && ResponseUrl::parse(location, false).is_ok()
}

/// Adds the PEM certificates in `path` to `roots`, warning about what it cannot use.
fn add_certificates(roots: &mut rustls::RootCertStore, path: &Path) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let shown = path.display();
    let certificates = match CertificateDer::pem_file_iter(path) {
        Ok(certificates) => certificates,
        Err(error) => {
            warn!(file = %shown, %error, "SSL_CERT_FILE cannot be read; trusting the built-in roots only");
            return;
        }
    };
    let mut added = 0;
    for certificate in certificates {
        match certificate
            .map_err(|e| e.to_string())
            .and_then(|c| roots.add(c).map_err(|e| e.to_string()))
        {
            Ok(()) => added += 1,
            Err(error) => warn!(file = %shown, %error, "a certificate in SSL_CERT_FILE is skipped"),
        }
    }
    if added == 0 {
        warn!(file = %shown, "SSL_CERT_FILE holds no usable certificate");
    }
}

/// The process's HTTP client, lent to the AWS SDK.
///
/// The SDK's own connect timeout setting is not applied per request (reqwest has none per
/// request); the client's is [`CONNECT_TIMEOUT`], which is also what the SDK is configured
/// with. The SDK bounds each attempt as a whole itself.
#[derive(Debug, Clone)]
pub struct SdkHttpClient(reqwest::Client);

impl SdkHttpClient {
    /// Lends `client` to the SDK.
    pub fn new(client: reqwest::Client) -> SdkHttpClient {
        SdkHttpClient(client)
    }
}

impl HttpClient for SdkHttpClient {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector(self.0.clone()))
    }
}

#[derive(Debug)]
struct Connector(reqwest::Client);

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.0.clone();
        HttpConnectorFuture::new(async move { send(&client, request).await })
    }
}

/// Sends one SDK request and reads the whole response: EKS answers are small JSON documents,
/// and the SDK parses them only once complete.
async fn send(
    client: &reqwest::Client,
    request: HttpRequest,
) -> Result<HttpResponse, ConnectorError> {
    let method = reqwest::Method::from_bytes(request.method().as_bytes())
        .map_err(|e| ConnectorError::user(e.into()))?;
    let mut outgoing = client.request(method, request.uri());
    for (name, value) in request.headers() {
        outgoing = outgoing.header(name, value);
    }
    // The SDK's EKS requests are serialised JSON, always in memory; a streaming body would
    // be a programming error here, reported to the SDK rather than sent empty.
    let body = request
        .body()
        .bytes()
        .ok_or_else(|| ConnectorError::user("streaming request bodies are not supported".into()))?
        .to_vec();
    let response = outgoing.body(body).send().await.map_err(connector_error)?;

    let status = response.status().as_u16();
    let headers = response.headers().clone();
    // Reading the body fails only when the connection does (no decoding is configured), so
    // such a failure is a broken connection, retried like one.
    let bytes = response.bytes().await.map_err(|e| match e.is_timeout() {
        true => ConnectorError::timeout(e.into()),
        false => ConnectorError::io(e.into()),
    })?;
    let mut answer = HttpResponse::new(
        status
            .try_into()
            .map_err(|e| ConnectorError::other(Box::new(e), None))?,
        SdkBody::from(bytes),
    );
    for (name, value) in &headers {
        if let Ok(value) = value.to_str() {
            answer
                .headers_mut()
                .append(name.as_str().to_owned(), value.to_owned());
        }
    }
    Ok(answer)
}

/// An error followed by its causes, each said once: "error sending request: client error
/// (Connect): tcp connect error: Connection refused", where the error alone says only the
/// first. For the failures of both the PUT and the EKS calls, which go through this client.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let message = error.to_string();
        if !text.contains(&message) {
            text = format!("{text}: {message}");
        }
        cause = error.source();
    }
    text
}

/// Whether a failed attempt never had a connection to send on: the name did not resolve, the
/// connection was refused or timed out, or the TLS handshake failed. Such an attempt sent
/// nothing. Any later failure (a write, a reset, a cut-off answer) may follow a request the
/// service received.
pub fn never_connected(error: &ConnectorError) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(reqwest) = cause.downcast_ref::<reqwest::Error>() {
            return reqwest.is_connect();
        }
        source = cause.source();
    }
    false
}

/// Sorts a transport failure the way the SDK's retry policy expects: timeouts and broken
/// connections are transient and retried; anything else is not.
fn connector_error(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_connect() || error.is_request() || error.is_body() {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn sdk_request(uri: &str, body: &'static str) -> HttpRequest {
        let mut request = HttpRequest::new(SdkBody::from(body));
        request.set_method("POST").unwrap();
        request.set_uri(uri).unwrap();
        request
            .headers_mut()
            .insert("x-amz-target", "CreatePodIdentityAssociation");
        request
    }

    /// The request heads a test server received, in order.
    type Heads = Arc<std::sync::Mutex<Vec<String>>>;

    /// A TLS server on loopback with the self-signed certificate of `localhost` (and of the
    /// S3-like host `bucket.s3.us-west-2.amazonaws.com`), and the request heads it received.
    async fn self_signed_tls_server() -> (std::net::SocketAddr, Heads) {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let cert = CertificateDer::from_pem_file(fixture("localhost.crt")).unwrap();
        let key = PrivateKeyDer::from_pem_file(fixture("localhost.key")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let heads = Heads::default();
        let received = Arc::clone(&heads);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                // Whoever completes the handshake gets an empty answer to one request.
                if let Ok(mut tls) = acceptor.accept(socket).await {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&request);
                    let head = text.split("\r\n\r\n").next().unwrap_or_default();
                    received.lock().unwrap().push(head.to_owned());
                    let _ = tls
                        .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                        .await;
                    let _ = tls.shutdown().await;
                }
            }
        });
        (address, heads)
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    #[tokio::test]
    async fn trusts_the_certificates_of_ssl_cert_file_too() {
        let port = self_signed_tls_server().await.0.port();
        let trusting = client_trusting(Some(&fixture("localhost.crt")), Arc::default()).unwrap();
        let response = trusting
            .get(format!("https://localhost:{port}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 204);
    }

    /// The causes of `error`, outermost first, as one line.
    fn chain(error: &reqwest::Error) -> String {
        std::iter::successors(Some(error as &dyn std::error::Error), |e| e.source())
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(": ")
    }

    /// The client is built, and checks certificates against the compiled-in roots: the
    /// handshake runs and finds the stand-in's certificate unknown, rather than failing in
    /// any other way.
    #[tokio::test]
    async fn an_unusable_ssl_cert_file_is_skipped_not_fatal() {
        let port = self_signed_tls_server().await.0.port();
        for unusable in [fixture("missing.crt"), fixture("localhost.key")] {
            let client = client_trusting(Some(&unusable), Arc::default()).unwrap();
            let error = client
                .get(format!("https://localhost:{port}/"))
                .send()
                .await
                .unwrap_err();
            assert!(
                chain(&error).contains("UnknownIssuer"),
                "{unusable:?}: {error:?}"
            );
        }
    }

    #[tokio::test]
    async fn speaks_tls_and_trusts_only_its_roots() {
        let port = self_signed_tls_server().await.0.port();
        let error = client_trusting(None, Arc::default())
            .unwrap()
            .get(format!("https://localhost:{port}/"))
            .send()
            .await
            .unwrap_err();
        // The handshake ran (TLS is compiled in, with a working crypto provider) and the
        // certificate was checked against the compiled-in roots, which do not hold it.
        let chain = chain(&error);
        assert!(chain.contains("UnknownIssuer"), "{chain}");
    }

    #[tokio::test]
    async fn carries_the_sdk_request_and_the_whole_answer() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buffer = [0u8; 4096];
            // Read until the 7-byte body has arrived after the headers.
            while !String::from_utf8_lossy(&seen).ends_with("{\"a\":1}") {
                let n = socket.read(&mut buffer).await.unwrap();
                assert!(n > 0, "the client closed before sending its body");
                seen.extend_from_slice(&buffer[..n]);
            }
            let answer = "HTTP/1.1 409 Conflict\r\ncontent-length: 17\r\nx-amzn-errortype: ResourceInUseException\r\n\r\n{\"message\":\"in\"}\n";
            socket.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8(seen).unwrap()
        });

        let response = send(
            &client_trusting(None, Arc::default()).unwrap(),
            sdk_request(
                &format!("http://{address}/clusters/c/pod-identity-associations"),
                "{\"a\":1}",
            ),
        )
        .await
        .unwrap();
        let seen = server.await.unwrap().to_ascii_lowercase();

        assert!(
            seen.starts_with("post /clusters/c/pod-identity-associations http/1.1\r\n"),
            "{seen}"
        );
        assert!(
            seen.contains("x-amz-target: createpodidentityassociation\r\n"),
            "{seen}"
        );
        assert!(seen.contains("content-length: 7\r\n"), "{seen}");
        assert_eq!(response.status().as_u16(), 409);
        assert_eq!(
            response.headers().get("x-amzn-errortype"),
            Some("ResourceInUseException")
        );
        assert_eq!(
            response.body().bytes(),
            Some(&b"{\"message\":\"in\"}\n"[..])
        );
    }

    async fn failed_sdk_request(address: std::net::SocketAddr) -> ConnectorError {
        let request = sdk_request(&format!("http://{address}/"), "{}");
        send(&client_trusting(None, Arc::default()).unwrap(), request)
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_retryable_io_error() {
        // Bind and drop, so that the port is (almost certainly) closed.
        let address = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let error = failed_sdk_request(address).await;
        assert!(error.is_io(), "{error:?}");
        assert!(never_connected(&error), "{error:?}");
    }

    #[tokio::test]
    async fn a_connection_closed_mid_answer_is_a_retryable_io_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"trunc")
                .await;
        });
        let error = failed_sdk_request(address).await;
        assert!(error.is_io(), "{error:?}");
        assert!(!never_connected(&error), "the request was sent: {error:?}");
    }

    /// A plain HTTP server on loopback that gives `answer` to every request, and counts them.
    async fn answering(answer: String) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/bucket/key", listener.local_addr().unwrap());
        let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&served);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        (url, served)
    }

    /// A redirect the client would follow as a GET, or to a host the ResponseURL could not
    /// name, is the answer: the PUT's body never reached the place redirected to.
    #[tokio::test]
    async fn redirects_are_followed_only_as_puts_to_an_aws_host() {
        let client = client_trusting(None, Arc::default()).unwrap();
        let (elsewhere, reached) =
            answering("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_owned()).await;
        for (status, location) in [
            (302, elsewhere.as_str()),
            (301, elsewhere.as_str()),
            (307, elsewhere.as_str()),
            (302, "https://bucket.s3.us-east-1.amazonaws.com/key"),
        ] {
            let (url, _) = answering(format!(
                "HTTP/1.1 {status} Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n"
            ))
            .await;
            let response = client.put(&url).body("{}").send().await.unwrap();
            assert_eq!(response.status().as_u16(), status, "{status} to {location}");
        }
        assert_eq!(reached.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    /// A followed redirect does not tell the next host where it came from: reqwest's default
    /// Referer header would carry the presigned URL, its credential included.
    #[tokio::test]
    async fn a_followed_redirect_does_not_pass_the_presigned_url_on() {
        let regional = "bucket.s3.us-west-2.amazonaws.com";
        let (tls, heads) = self_signed_tls_server().await;
        let (url, _) = answering(format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: https://{regional}:{}/key\r\n\
             content-length: 0\r\n\r\n",
            tls.port()
        ))
        .await;
        let client = builder(Some(&fixture("localhost.crt")), Arc::default())
            .unwrap()
            .resolve(regional, tls)
            .build()
            .unwrap();
        let response = client
            .put(format!("{url}?X-Amz-Signature=secret"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 204, "the redirect was followed");
        let heads = heads.lock().unwrap();
        let [head] = heads.as_slice() else {
            panic!("one request at the redirect's target: {heads:?}");
        };
        assert!(head.starts_with("PUT /key "), "{head}");
        assert!(!head.contains("secret"), "{head}");
        assert!(!head.to_ascii_lowercase().contains("referer"), "{head}");
    }

    /// What S3 sends for a new bucket (a 307 to its regional name, over https) is followed,
    /// up to three times; anything that would not carry the PUT there is not.
    #[test]
    fn a_put_keeping_redirect_to_an_aws_host_is_followed_three_times_at_most() {
        let regional = "https://bucket.s3.us-west-2.amazonaws.com/key?X-Amz-Signature=abc";
        assert!(follows(307, regional, 1));
        assert!(follows(308, regional, 1));
        assert!(follows(307, regional, 3), "the third redirect");
        assert!(!follows(307, regional, 4), "a fourth");
        for status in [301, 302, 303] {
            assert!(
                !follows(status, regional, 1),
                "{status} turns the PUT into a GET"
            );
        }
        assert!(
            !follows(307, "http://bucket.s3.us-west-2.amazonaws.com/key", 1),
            "http"
        );
        assert!(
            !follows(307, "https://example.com/key", 1),
            "not an AWS host"
        );
    }
}
