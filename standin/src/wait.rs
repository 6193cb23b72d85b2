//! Waiting for something recorded by a request handler, without polling and
//! without missing a notification that races with the check.

use std::time::Duration;

use tokio::sync::Notify;

/// Calls `check` until it yields a value, re-checking each time `notify`
/// fires, for at most `timeout` (`None` waits forever). Writers must call
/// `notify.notify_waiters()` after changing what `check` reads.
pub async fn until<T>(
    notify: &Notify,
    timeout: Option<Duration>,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let wait = async {
        loop {
            let notified = notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Registering before checking means a change made between the
            // check and the await still wakes us.
            notified.as_mut().enable();
            if let Some(value) = check() {
                return value;
            }
            notified.await;
        }
    };
    match timeout {
        Some(timeout) => tokio::time::timeout(timeout, wait).await.ok(),
        None => Some(wait.await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn wakes_on_notification_and_times_out_otherwise() {
        let notify = Arc::new(Notify::new());
        let value = Arc::new(AtomicU32::new(0));
        let (n, v) = (Arc::clone(&notify), Arc::clone(&value));
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            v.store(7, Ordering::SeqCst);
            n.notify_waiters();
        });
        let got = until(&notify, Some(Duration::from_secs(5)), || {
            let x = value.load(Ordering::SeqCst);
            (x != 0).then_some(x)
        })
        .await;
        assert_eq!(got, Some(7));
        let never = until(&notify, Some(Duration::from_millis(30)), || None::<u32>).await;
        assert_eq!(never, None);
    }
}
