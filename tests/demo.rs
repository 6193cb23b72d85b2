//! `make run`'s demo, with the real binary and the sample events in `events/`: every step
//! answers SUCCESS, the physical id is threaded through, and the association is gone at the end.

use standin::demo::{run, DemoOptions};
use std::path::PathBuf;

#[tokio::test]
async fn the_demo_lifecycle_ends_with_nothing_left() {
    let options = DemoOptions {
        lambda: PathBuf::from(env!("CARGO_BIN_EXE_cfn-eks-pod-identity")),
        events: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/events")),
    };
    assert_eq!(run(&options).await, Ok(true));
}
