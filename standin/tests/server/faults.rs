//! Injected faults as a client experiences them.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use serde_json::json;
use standin::{Fault, FaultTarget, Standin};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::{eks, send, signed};

const BASE: &str = "/clusters/prod/pod-identity-associations";

fn body(sa: &str) -> serde_json::Value {
    json!({"namespace": "apps", "serviceAccount": sa, "roleArn": "arn:aws:iam::111122223333:role/r"})
}

#[tokio::test]
async fn status_faults_replace_the_answer_for_the_next_count_matching_calls() {
    let s = Standin::start().await.unwrap();
    s.inject(
        FaultTarget::eks("CreatePodIdentityAssociation"),
        Fault::status(429, "ThrottlingException", "Rate exceeded"),
        2,
    );
    // Other operations are not affected.
    assert_eq!(
        eks(s.addr(), "us-east-1", "GET", BASE, None).await.status,
        200
    );
    for _ in 0..2 {
        let r = eks(s.addr(), "us-east-1", "POST", BASE, Some(body("a"))).await;
        assert_eq!(r.status, 429);
        assert_eq!(r.header("x-amzn-errortype"), Some("ThrottlingException"));
        assert_eq!(r.json(), json!({"message": "Rate exceeded"}));
    }
    assert!(s.associations().is_empty());
    assert_eq!(
        eks(s.addr(), "us-east-1", "POST", BASE, Some(body("a")))
            .await
            .status,
        200
    );
    assert_eq!(s.injected_fault_count(), 2);
    let statuses: Vec<Option<u16>> = s.eks_calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![Some(200), Some(429), Some(429), Some(200)]);
}

#[tokio::test]
async fn bucket_status_faults_answer_in_s3_xml() {
    let s = Standin::start().await.unwrap();
    s.inject(
        FaultTarget::Bucket,
        Fault::status(503, "SlowDown", "Please reduce your request rate."),
        1,
    );
    let r = send(s.addr(), "PUT", &signed("k"), &[], Some(b"x")).await;
    assert_eq!(r.status, 503);
    assert!(r.text().contains("<Code>SlowDown</Code>"), "{}", r.text());
    assert!(s.responses("k").is_empty());
    assert_eq!(
        send(s.addr(), "PUT", &signed("k"), &[], Some(b"x"))
            .await
            .status,
        200
    );
    assert_eq!(s.responses("k").len(), 1);
}

#[tokio::test]
async fn delays_stall_then_handle_normally() {
    let s = Standin::start().await.unwrap();
    s.inject(
        FaultTarget::any_eks(),
        Fault::Delay(Duration::from_millis(300)),
        1,
    );
    let started = Instant::now();
    let r = eks(s.addr(), "us-east-1", "POST", BASE, Some(body("a"))).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status, 200);
    assert_eq!(s.associations().len(), 1);
}

/// A CreatePodIdentityAssociation for service account `name`, as raw HTTP/1.1.
fn raw_create(name: &str) -> String {
    let payload = body(name).to_string();
    format!(
        "POST {BASE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    )
}

/// Sends one request on a raw socket and checks that the connection was reset with no
/// response bytes.
async fn assert_reset_without_answer(s: &Standin, request: &str) {
    let (result, got) = read_after(s, request).await;
    assert!(
        got.is_empty(),
        "no response bytes expected, got {:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(
        result.map_err(|e| e.kind()),
        Err(ErrorKind::ConnectionReset)
    );
}

/// A two-byte upload to key `k`, as raw HTTP/1.1.
fn raw_upload() -> String {
    format!(
        "PUT {} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
        signed("k")
    )
}

/// Sends one request on a raw socket and reports how the read ended.
async fn read_after(s: &Standin, request: &str) -> (std::io::Result<usize>, Vec<u8>) {
    let mut stream = TcpStream::connect(s.addr()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => return (Ok(got.len()), got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (Err(e), got),
        }
    }
}

#[tokio::test]
async fn reset_drops_the_connection_without_a_response() {
    let s = Standin::start().await.unwrap();
    s.inject(FaultTarget::any_eks(), Fault::Reset, 1);
    let request = raw_create("a");
    assert_reset_without_answer(&s, &request).await;
    assert!(
        s.associations().is_empty(),
        "a reset request is not handled"
    );
    assert_eq!(s.eks_calls()[0].status, None);
    assert_eq!(s.injected_faults()[0].fault, Fault::Reset);

    // The server carries on.
    let (result, got) = read_after(
        &s,
        &request.replace("HTTP/1.1\r\n", "HTTP/1.1\r\nConnection: close\r\n"),
    )
    .await;
    assert!(result.is_ok());
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn reset_applies_to_bucket_uploads_too() {
    let s = Standin::start().await.unwrap();
    s.inject(FaultTarget::Bucket, Fault::Reset, 1);
    assert_reset_without_answer(&s, &raw_upload()).await;
    assert!(s.responses("k").is_empty());
}

#[tokio::test]
async fn reset_after_handling_takes_effect_but_sends_nothing() {
    let s = Standin::start().await.unwrap();
    s.inject(FaultTarget::any_eks(), Fault::ResetAfterHandling, 1);
    assert_reset_without_answer(&s, &raw_create("a")).await;
    assert_eq!(s.associations().len(), 1, "the create took effect");

    s.inject(FaultTarget::Bucket, Fault::ResetAfterHandling, 1);
    assert_reset_without_answer(&s, &raw_upload()).await;
    assert_eq!(s.responses("k").len(), 1, "the upload was stored");
}

#[tokio::test]
async fn a_create_right_after_a_delete_can_conflict() {
    let s = Standin::start().await.unwrap();
    s.inject(
        FaultTarget::any_eks(),
        Fault::ConflictAfterDelete(Duration::from_secs(30)),
        1,
    );
    let created = eks(s.addr(), "us-east-1", "POST", BASE, Some(body("a"))).await;
    let id = created.json()["association"]["associationId"]
        .as_str()
        .unwrap()
        .to_string();
    eks(
        s.addr(),
        "us-east-1",
        "DELETE",
        &format!("{BASE}/{id}"),
        None,
    )
    .await;
    let conflict = eks(s.addr(), "us-east-1", "POST", BASE, Some(body("a"))).await;
    assert_eq!(conflict.status, 409);
    assert_eq!(
        conflict.json()["message"],
        format!("Association already exists: {id}")
    );
    let retry = eks(s.addr(), "us-east-1", "POST", BASE, Some(body("a"))).await;
    assert_eq!(retry.status, 200);
    assert_eq!(s.injected_fault_count(), 1);
}

#[tokio::test]
async fn random_faults_hit_some_requests_and_are_counted() {
    let s = Standin::start().await.unwrap();
    s.inject_random(
        FaultTarget::any_eks(),
        0.5,
        vec![Fault::status(500, "ServerException", "boom")],
    );
    let mut failures = 0;
    for _ in 0..60 {
        if eks(s.addr(), "us-east-1", "GET", BASE, None).await.status == 500 {
            failures += 1;
        }
    }
    assert!((10..50).contains(&failures), "{failures}");
    assert_eq!(s.injected_fault_count(), failures);
    s.clear_faults();
    assert_eq!(
        eks(s.addr(), "us-east-1", "GET", BASE, None).await.status,
        200
    );
}
