//! The Lambda Runtime API over HTTP: long polling, one invocation per
//! poller, outcomes and their timing.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use standin::{Invocation, Outcome, Standin};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::client::send;

const NEXT: &str = "/2018-06-01/runtime/invocation/next";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn an_invocation_round_trip() {
    let s = Standin::start().await.unwrap();
    let id = s.invoke(json!({"RequestType": "Create"}), Duration::from_secs(30));
    assert!(standin::ids::is_uuid(&id));
    let before = now_ms();
    let next = send(s.addr(), "GET", NEXT, &[], None).await;
    assert_eq!(next.status, 200);
    assert_eq!(next.json(), json!({"RequestType": "Create"}));
    assert_eq!(
        next.header("lambda-runtime-aws-request-id"),
        Some(id.as_str())
    );
    assert_eq!(
        next.header("lambda-runtime-invoked-function-arn"),
        Some(Standin::FUNCTION_ARN)
    );
    assert_eq!(next.header("content-type"), Some("application/json"));
    let deadline: u64 = next
        .header("lambda-runtime-deadline-ms")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        deadline >= before + 29_000 && deadline <= now_ms() + 30_000,
        "{deadline}"
    );
    let trace = next.header("lambda-runtime-trace-id").unwrap();
    assert!(
        trace.starts_with("Root=1-") && trace.contains(";Parent="),
        "{trace}"
    );

    assert_eq!(
        s.wait_for_outcome(&id, Duration::from_millis(20)).await,
        None
    );
    let path = format!("/2018-06-01/runtime/invocation/{id}/response");
    let posted = send(s.addr(), "POST", &path, &[], Some(br#"{"ok":true}"#)).await;
    assert_eq!(
        (posted.status, posted.json()),
        (202, json!({"status": "OK"}))
    );
    let outcome = s.wait_for_outcome(&id, Duration::from_secs(5)).await;
    assert_eq!(outcome, Some(Outcome::Response(json!({"ok": true}))));
    let record = s.invocation(&id).unwrap();
    assert_eq!(record.deadline_ms, Some(deadline));
    assert!(record.queued_at <= record.handed_out_at.unwrap());
    assert!(record.handed_out_at.unwrap() <= record.completed_at.unwrap());
    assert_eq!(record.extra_outcomes, 0);
}

#[tokio::test]
async fn errors_init_errors_and_unknown_ids() {
    let s = Standin::start().await.unwrap();
    let id = s.invoke_with(Invocation {
        event: json!({}),
        timeout: Duration::from_secs(3),
        function_arn: "arn:aws:lambda:eu-west-1:111122223333:function:other".into(),
    });
    let next = send(s.addr(), "GET", NEXT, &[], None).await;
    assert_eq!(
        next.header("lambda-runtime-invoked-function-arn"),
        Some("arn:aws:lambda:eu-west-1:111122223333:function:other")
    );
    let path = format!("/2018-06-01/runtime/invocation/{id}/error");
    let body = br#"{"errorType":"HandlerError","errorMessage":"it broke"}"#;
    let r = send(
        s.addr(),
        "POST",
        &path,
        &[("Lambda-Runtime-Function-Error-Type", "unhandled")],
        Some(body),
    )
    .await;
    assert_eq!(r.status, 202);
    assert_eq!(
        s.wait_for_outcome(&id, Duration::from_secs(5)).await,
        Some(Outcome::Error {
            error_type: "HandlerError".into(),
            message: "it broke".into()
        })
    );

    let init = send(
        s.addr(),
        "POST",
        "/2018-06-01/runtime/init/error",
        &[("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")],
        Some(b"{}"),
    )
    .await;
    assert_eq!(init.status, 202);
    assert_eq!(s.init_errors()[0].error_type, "Runtime.InitError");

    let unknown = send(
        s.addr(),
        "POST",
        "/2018-06-01/runtime/invocation/nope/response",
        &[],
        Some(b"{}"),
    )
    .await;
    assert_eq!(unknown.status, 400);
}

#[tokio::test]
async fn pollers_wait_and_each_invocation_goes_to_one_poller() {
    let s = Standin::start().await.unwrap();
    let pollers: Vec<_> = (0..3)
        .map(|_| {
            let addr = s.addr();
            tokio::spawn(async move { send(addr, "GET", NEXT, &[], None).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        pollers.iter().all(|p| !p.is_finished()),
        "next must long-poll"
    );
    let ids: HashSet<String> = (0..3)
        .map(|n| s.invoke(json!({ "n": n }), Duration::from_secs(5)))
        .collect();
    let mut got = HashSet::new();
    for p in pollers {
        let reply = tokio::time::timeout(Duration::from_secs(5), p)
            .await
            .unwrap()
            .unwrap();
        got.insert(
            reply
                .header("lambda-runtime-aws-request-id")
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(got, ids);
}

#[tokio::test]
async fn a_poller_that_went_away_does_not_swallow_an_invocation() {
    let s = Standin::start().await.unwrap();
    {
        let mut gone = TcpStream::connect(s.addr()).await.unwrap();
        let req = format!("GET {NEXT} HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr());
        gone.write_all(req.as_bytes()).await.unwrap();
        until(|| s.waiting_polls() == 1).await;
    }
    // The invocation comes once the server has noticed the poller left, however long that
    // takes on a busy machine: before it, the invocation would be handed to that poller.
    until(|| s.waiting_polls() == 0).await;
    let id = s.invoke(json!({}), Duration::from_secs(5));
    let next = tokio::time::timeout(
        Duration::from_secs(5),
        send(s.addr(), "GET", NEXT, &[], None),
    )
    .await
    .expect("the invocation went to the departed poller");
    assert_eq!(
        next.header("lambda-runtime-aws-request-id"),
        Some(id.as_str())
    );
}

#[tokio::test]
async fn the_invoke_api_waits_for_the_function_or_queues_an_event() {
    let s = Standin::start().await.unwrap();
    let invoke_path = "/2015-03-31/functions/cfn-eks-pod-identity/invocations";
    let caller = {
        let addr = s.addr();
        tokio::spawn(
            async move { send(addr, "POST", invoke_path, &[], Some(br#"{"hello":1}"#)).await },
        )
    };
    let next = send(s.addr(), "GET", NEXT, &[], None).await;
    assert_eq!(next.json(), json!({"hello": 1}));
    let id = next.header("lambda-runtime-aws-request-id").unwrap();
    let path = format!("/2018-06-01/runtime/invocation/{id}/response");
    send(s.addr(), "POST", &path, &[], Some(br#"{"answer":42}"#)).await;
    let reply = tokio::time::timeout(Duration::from_secs(5), caller)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((reply.status, reply.json()), (200, json!({"answer": 42})));

    let queued = send(
        s.addr(),
        "POST",
        invoke_path,
        &[("X-Amz-Invocation-Type", "Event")],
        Some(b"{}"),
    )
    .await;
    assert_eq!(queued.status, 202);
    assert_eq!(s.invocations().len(), 2);
    let bad = send(s.addr(), "POST", invoke_path, &[], Some(b"{")).await;
    assert_eq!(bad.status, 400);
}

/// Waits until `check` holds, failing the test after 5 s.
async fn until(check: impl Fn() -> bool) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the stand-in got there within 5 s");
}
