//! The floor's pieces, for its binary and for `floor-sdk/`, which adds one EKS call to them:
//! the HTTP client set-up and the response PUT.

use lambda_runtime::Error;
use serde_json::{json, Value};

/// The function's HTTP client set-up (src/http.rs, copied rather than shared so that the
/// floor links nothing of the function): rustls with ring and the compiled-in Mozilla roots,
/// so the bench compares the two on the same TLS stack and start-up work.
pub fn http_client() -> Result<reqwest::Client, Error> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    // The certificates SSL_CERT_FILE names are trusted too, as the function trusts them, so
    // that both can run over HTTPS against the stand-in (`cfn-bench --tls`).
    if let Some(path) = std::env::var_os("SSL_CERT_FILE") {
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        // What cannot be read is skipped, as the function skips it.
        let certificates = CertificateDer::pem_file_iter(path).into_iter().flatten();
        for certificate in certificates.flatten() {
            let _ = roots.add(certificate);
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()?)
}

/// PUTs a SUCCESS response for `event`: no Content-Type (the presigned URL is signed
/// without one) and an exact Content-Length (S3 refuses chunked uploads).
pub async fn respond(http: &reqwest::Client, event: &Value) -> Result<(), Error> {
    let field = |name: &str| event.get(name).and_then(Value::as_str).unwrap_or_default();
    let url = field("ResponseURL");
    if url.is_empty() {
        return Err("the event has no ResponseURL".into());
    }
    // A Create has no id yet: its RequestId is unique, and later events of the resource carry it.
    let physical_id = match field("PhysicalResourceId") {
        "" => field("RequestId"),
        id => id,
    };
    let body = serde_json::to_vec(&json!({
        "Status": "SUCCESS",
        "PhysicalResourceId": physical_id,
        "StackId": field("StackId"),
        "RequestId": field("RequestId"),
        "LogicalResourceId": field("LogicalResourceId"),
    }))?;
    // A Vec body has a known length, so reqwest sends Content-Length rather than chunks.
    http.put(url).body(body).send().await?.error_for_status()?;
    Ok(())
}
