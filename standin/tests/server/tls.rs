//! HTTPS beside plain HTTP on each of the stand-in's ports (`Standin::start_tls`).

use std::time::Duration;

use serde_json::json;
use standin::Standin;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::{auth, raw_tls, request, send};

#[tokio::test]
async fn each_port_serves_eks_and_the_bucket_over_https_and_plain_http() {
    let s = Standin::start_tls().await.unwrap();
    let port = s.addr().port();
    assert_eq!(s.url(), format!("https://localhost:{port}"));
    assert_eq!(s.plain_url(), format!("http://127.0.0.1:{port}"));
    let url = s.response_url("over-tls");
    // Apart from EKS's host, and on a port of its own, as S3 is.
    let bucket_port = s.bucket_addr().port();
    assert_ne!(bucket_port, port);
    assert!(
        url.starts_with(&format!("https://127.0.0.1:{bucket_port}/bucket/over-tls?")),
        "{url}"
    );
    let env = s.function_env();
    for name in ["SSL_CERT_FILE", "AWS_CA_BUNDLE"] {
        assert!(
            env.contains(&(name.to_owned(), standin::TLS_CERTIFICATE_FILE.to_owned())),
            "{name}: {env:?}"
        );
    }
    assert!(env.contains(&("AWS_ENDPOINT_URL_EKS".to_owned(), s.url())));

    // An EKS call and a response upload over TLS...
    let create = json!({"namespace": "ns", "serviceAccount": "sa",
        "roleArn": "arn:aws:iam::111122223333:role/r"})
    .to_string();
    let auth = auth("us-east-1");
    let created = raw_tls(
        s.addr(),
        "localhost",
        &request(
            "localhost",
            "POST",
            "/clusters/c/pod-identity-associations",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            Some(create.as_bytes()),
        ),
    )
    .await
    .unwrap();
    assert_eq!(created.status, 200, "{}", created.text());
    let target = &url[url.find("/bucket/").unwrap()..];
    let put = raw_tls(
        s.bucket_addr(),
        "127.0.0.1",
        &request(
            "127.0.0.1",
            "PUT",
            target,
            &[],
            Some(br#"{"Status":"SUCCESS"}"#),
        ),
    )
    .await
    .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());
    let uploads = s
        .wait_for_responses("over-tls", 1, Duration::from_secs(5))
        .await;
    assert_eq!(uploads.len(), 1);

    // ...and the same state over plain HTTP on the other port.
    let listed = send(
        s.addr(),
        "GET",
        "/clusters/c/pod-identity-associations",
        &[("Authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(
        listed.json()["associations"].as_array().map(Vec::len),
        Some(1)
    );
    let read = send(s.addr(), "GET", target, &[], None).await;
    assert_eq!(read.text(), r#"{"Status":"SUCCESS"}"#);
}

#[tokio::test]
async fn a_failed_handshake_closes_only_its_own_connection() {
    let s = Standin::start_tls().await.unwrap();
    // A handshake record that is not a ClientHello.
    let mut broken = TcpStream::connect(s.addr()).await.unwrap();
    broken
        .write_all(b"\x16\x03\x01\x00\x05hello")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), broken.read_to_end(&mut answer))
        .await
        .expect("the stand-in closes the connection");
    // Closed or reset, with at most a TLS alert (record type 21), never an HTTP answer.
    assert!(
        read.is_err() || answer.is_empty() || answer.first() == Some(&21),
        "{answer:?}"
    );
    // The next connection, plain or TLS, is served as usual.
    let plain = send(s.addr(), "GET", "/bucket/none", &[], None).await;
    assert_eq!(plain.status, 404);
    let tls = raw_tls(
        s.addr(),
        "localhost",
        &request("localhost", "GET", "/bucket/none", &[], None),
    )
    .await
    .unwrap();
    assert_eq!(tls.status, 404);
}

#[tokio::test]
async fn a_plain_stand_in_serves_no_tls() {
    let s = Standin::start().await.unwrap();
    assert!(s.url().starts_with("http://127.0.0.1:"));
    assert!(!s.function_env().iter().any(|(k, _)| k == "SSL_CERT_FILE"));
    assert!(raw_tls(
        s.addr(),
        "localhost",
        &request("localhost", "GET", "/bucket/none", &[], None)
    )
    .await
    .is_err());
}
