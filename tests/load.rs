//! The load test, small: a few processes of the real binary drive a dozen stacks through
//! full lifecycles at once while a fifth of EKS calls and response PUTs fail. `make soak`
//! runs the same with hundreds of instances.

use standin::soak::{self, SoakOptions, EVENTS_PER_STACK};
use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_instances_under_random_faults_answer_once_and_leave_nothing() {
    let options = SoakOptions {
        lambda: PathBuf::from(env!("CARGO_BIN_EXE_cfn-eks-pod-identity")),
        instances: 4,
        stacks: 12,
        fault_rate: 0.2,
        log: Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("load-lambda.log")),
    };
    let report = soak::run(&options).await.expect("the soak runs");
    println!("{report}");
    // A step that ran out of EKS retries (about one EKS call in 17,000 at this rate) answers
    // FAILED, and its stack rolls back early, with fewer events; every other stack runs them all.
    // More than one such step in a dozen stacks means the function no longer retries what EKS
    // answers under load (a FAILED that names the fault counts as giving up, not as a failure).
    assert!(report.gave_up <= 1, "{report}");
    if report.gave_up == 0 {
        assert_eq!(report.events, 12 * EVENTS_PER_STACK, "{report}");
    }
    assert_eq!(report.responses, report.events, "{report}");
    assert_eq!(report.lost, 0, "{report}");
    assert_eq!(report.duplicate_responses, 0, "{report}");
    assert_eq!(report.duplicate_associations, 0, "{report}");
    assert_eq!(report.leftovers, 0, "{report}");
    assert!(report.faults_injected > 0, "{report}");
    assert!(report.invocations >= report.events, "{report}");
    // Stack 3's Create meets an S3 outage that outlasts its invocation: Lambda runs it again.
    assert!(report.redeliveries >= 1, "{report}");
    assert!(report.failures.is_empty(), "{report}");
    assert!(report.is_clean(), "{report}");
}
