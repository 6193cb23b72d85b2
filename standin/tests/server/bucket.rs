//! The response bucket over HTTP: S3's refusals and what is recorded.

use std::time::Duration;

use standin::{Standin, SIGNATURE};

use crate::client::{raw, send, signed};

/// The path and query of a response URL, as an HTTP request target.
fn target(url: &str) -> String {
    let after_scheme = url.strip_prefix("http://").unwrap();
    after_scheme[after_scheme.find('/').unwrap()..].to_string()
}

#[tokio::test]
async fn accepts_a_presigned_style_put_and_wakes_waiters() {
    let s = Standin::start().await.unwrap();
    let url = s.response_url("stack/res/req-1");
    // On the bucket's own port, apart from EKS's, as S3 is.
    let bucket = format!("http://{}", s.bucket_addr());
    assert!(
        url.starts_with(&format!("{bucket}/bucket/stack/res/req-1?")),
        "{url}"
    );
    assert_ne!(bucket, s.url());
    assert!(url.contains(SIGNATURE));
    let waiter = {
        let s = s.clone();
        tokio::spawn(async move {
            s.wait_for_responses("stack/res/req-1", 1, Duration::from_secs(5))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let body = br#"{"Status":"SUCCESS"}"#;
    let r = send(s.addr(), "PUT", &target(&url), &[], Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = waiter.await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, body);
    assert_eq!(got[0].content_length, Some(body.len() as u64));
    assert_eq!(got[0].content_type, None);
    assert_eq!(got[0].json().unwrap()["Status"], "SUCCESS");
    assert!(got[0].headers.iter().any(|(k, _)| k == "content-length"));
    // A second PUT appends; a different key stays separate.
    send(
        s.addr(),
        "PUT",
        &target(&url),
        &[("Content-Type", "")],
        Some(b"2"),
    )
    .await;
    assert_eq!(s.responses("stack/res/req-1").len(), 2);
    assert!(s.responses("other").is_empty());
    let none = s
        .wait_for_responses("other", 1, Duration::from_millis(50))
        .await;
    assert!(none.is_empty());
}

#[tokio::test]
async fn refuses_what_s3_refuses() {
    let s = Standin::start().await.unwrap();
    let a = s.addr();
    let chunked = format!(
        "PUT {} HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        signed("k")
    );
    let r = raw(a, chunked.as_bytes()).await.unwrap();
    assert_eq!(r.status, 411);
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert!(
        r.text().contains("<Code>MissingContentLength</Code>"),
        "{}",
        r.text()
    );

    let no_length = send(a, "PUT", &signed("k"), &[], None).await;
    assert_eq!(no_length.status, 411);

    let typed = send(
        a,
        "PUT",
        &signed("k"),
        &[("Content-Type", "application/json")],
        Some(b"{}"),
    )
    .await;
    assert_eq!(typed.status, 403);
    assert!(typed.text().contains("<Code>SignatureDoesNotMatch</Code>"));

    // The URL's query is its credential: without it the PUT is anonymous; past its two
    // hours it has expired.
    let anonymous = send(a, "PUT", "/bucket/k", &[], Some(b"{}")).await;
    assert_eq!(anonymous.status, 403);
    let old = std::time::SystemTime::now() - Duration::from_secs(7300);
    let expired = s.response_url_signed_at("k", old);
    let path = &expired[expired.find("/bucket/").unwrap()..];
    let expired = send(a, "PUT", path, &[], Some(b"{}")).await;
    assert!(
        expired.text().contains("Request has expired"),
        "{}",
        expired.text()
    );

    assert!(s.responses("k").is_empty());
    let codes: Vec<(u16, String)> = s
        .rejected_uploads()
        .into_iter()
        .map(|r| (r.status, r.code))
        .collect();
    assert_eq!(
        codes,
        vec![
            (411, "MissingContentLength".to_string()),
            (411, "MissingContentLength".to_string()),
            (403, "SignatureDoesNotMatch".to_string()),
            (403, "AccessDenied".to_string()),
            (403, "AccessDenied".to_string()),
        ]
    );
}

#[tokio::test]
async fn a_get_reads_the_last_upload_accepted() {
    let s = Standin::start().await.unwrap();
    let url = target(&s.response_url("stack|res/req 1"));
    let missing = send(s.addr(), "GET", &url, &[], None).await;
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("<Code>NoSuchKey</Code>"));

    for body in [&br#"{"Status":"FAILED"}"#[..], br#"{"Status":"SUCCESS"}"#] {
        let put = send(s.addr(), "PUT", &url, &[], Some(body)).await;
        assert_eq!(put.status, 200, "{}", put.text());
    }
    // Refused uploads are not objects: S3 kept nothing of them.
    let typed = send(
        s.addr(),
        "PUT",
        &url,
        &[("Content-Type", "application/json")],
        Some(b"{}"),
    )
    .await;
    assert_eq!(typed.status, 403);

    let got = send(s.addr(), "GET", &url, &[], None).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, br#"{"Status":"SUCCESS"}"#);
    assert_eq!(got.header("content-type"), Some("binary/octet-stream"));
    // Reading changes nothing.
    assert_eq!(s.responses("stack|res/req 1").len(), 2);
}
