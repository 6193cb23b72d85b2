//! The time an event has, and keeping to it: when its answer is due (the Lambda deadline, or
//! sooner when CloudFormation stops waiting), the reserve kept back for delivering it, how
//! much of the rest a run, a rerun or an undo may take, and the supervisor that ends an
//! operation that overruns or panics, so that the answer still goes out.

use crate::resource::{Failure, Success};
use std::future::Future;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;
use tracing::{error, warn, Instrument};

/// What sets the time an event has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The Lambda invocation's deadline.
    Lambda,
    /// The resource's ServiceTimeout: CloudFormation stops waiting then, and treats a Create
    /// still running as failed, so work that went on would create what no stack tracks.
    ServiceTimeout,
}

/// When the answer is due: the Lambda deadline, or when CloudFormation stops waiting if that
/// is sooner. That is `waits_until` when the ResponseURL's signature says when CloudFormation
/// sent the event ([`crate::late::waits_until`]). Otherwise it is the resource's
/// `service_timeout` from now, less what the event may have spent in Lambda's queue: a tenth
/// of it, at most 5 s.
pub(crate) fn deadline_for(
    service_timeout: Option<Duration>,
    waits_until: Option<SystemTime>,
    lambda: Instant,
) -> (Instant, Limit) {
    let now = Instant::now();
    let cloudformation = match waits_until {
        Some(until) => Some(now + until.duration_since(SystemTime::now()).unwrap_or_default()),
        None => service_timeout
            .map(|timeout| now + (timeout - (timeout / 10).min(Duration::from_secs(5)))),
    };
    match cloudformation {
        Some(cloudformation) if cloudformation < lambda => (cloudformation, Limit::ServiceTimeout),
        _ => (lambda, Limit::Lambda),
    }
}

/// Time kept back from the deadline for delivering the answer.
fn reserve(total: Duration) -> Duration {
    (total / 5).clamp(LEAST_RESERVE, Duration::from_secs(5))
}

/// The least time kept back for delivering the answer, however short the function's time.
pub(crate) const LEAST_RESERVE: Duration = Duration::from_millis(300);

/// The least time a run of an event that EKS throttled must have before its cut-off to be
/// started again: enough for a call or two, each with the SDK's retries.
const RERUN_NEEDS: Duration = Duration::from_secs(10);

/// Whether an event that EKS throttled, whose operation began at `started`, may run again
/// at `resume_at`: only in the first half of the time until its `cut_off`, so that the
/// removal of what a failed event may have made (its undo, in the handler) is not left only
/// the guard's reserve, and only with [`RERUN_NEEDS`] left. (A run started before halfway can
/// still last until the cut-off: its calls, IAM propagation and conflict windows are its
/// own.)
pub(crate) fn may_run_again(started: Instant, resume_at: Instant, cut_off: Instant) -> bool {
    let halfway = started + cut_off.saturating_duration_since(started) / 2;
    resume_at <= halfway && cut_off.saturating_duration_since(resume_at) >= RERUN_NEEDS
}

/// When the removal of what a failed event may have made must end: halfway to `deadline`.
/// It often follows an operation cut off by the deadline guard, when only the guard's reserve
/// is left, and the answer still needs time for its PUT: an answer never delivered makes
/// Lambda run the event again.
pub(crate) fn undo_deadline(now: Instant, deadline: Instant) -> Instant {
    now + deadline.saturating_duration_since(now) / 2
}

/// Runs an operation in its own task, so that a panic or the deadline ends the operation but
/// not the answer. The operation gets until `deadline` less a reserve kept for delivering the
/// answer, and `work` makes it knowing when that is; `limit` says what set the deadline, for
/// the Reason.
pub async fn supervise<W, F>(work: W, deadline: Instant, limit: Limit) -> Result<Success, Failure>
where
    W: FnOnce(Instant) -> F,
    F: Future<Output = Result<Success, Failure>> + Send + 'static,
{
    let total = deadline.saturating_duration_since(Instant::now());
    let guard = deadline
        .checked_sub(reserve(total))
        .unwrap_or_else(Instant::now);
    let work = tokio::spawn(work(guard).in_current_span());
    let abort = work.abort_handle();
    match tokio::time::timeout_at(guard, work).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(join_error)) => {
            let what = match join_error.try_into_panic() {
                Ok(payload) => panic_message(payload.as_ref()),
                Err(_) => "the task was cancelled".to_owned(),
            };
            error!(panic = %what, "the operation panicked");
            Err(Failure::new(format!(
                "Internal error in cfn-eks-pod-identity: {what}. \
                 Nothing more will be done for this event."
            )))
        }
        Err(_) => {
            abort.abort();
            warn!(left = ?deadline.saturating_duration_since(Instant::now()), "out of time");
            let reason = match limit {
                Limit::Lambda => format!(
                    "Timed out: the operation did not finish within the {}s the function had before its deadline. \
                     Check the function's network route to EKS, or raise its timeout (behind a CDK \
                     Provider, to 14 minutes at most: the framework's own function has 15).",
                    total.as_secs()
                ),
                Limit::ServiceTimeout => format!(
                    "Timed out: the operation did not finish within the {}s the resource's ServiceTimeout \
                     left it. Raise ServiceTimeout, or check the function's network route to EKS.",
                    total.as_secs()
                ),
            };
            Err(Failure::new(reason))
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_service_timeout_shorter_than_lambdas_sets_the_deadline() {
        let lambda = Instant::now() + Duration::from_secs(900);
        let (deadline, limit) = deadline_for(None, None, lambda);
        assert_eq!((deadline, limit), (lambda, Limit::Lambda));
        // A tenth, at most 5 s, is left for the time the event spent in Lambda's queue.
        let timeout = |secs| Some(Duration::from_secs(secs));
        let (deadline, limit) = deadline_for(timeout(30), None, lambda);
        assert_eq!(limit, Limit::ServiceTimeout);
        assert_eq!(deadline - Instant::now(), Duration::from_secs(27));
        let (deadline, _) = deadline_for(timeout(600), None, lambda);
        assert_eq!(deadline - Instant::now(), Duration::from_secs(595));
        assert_eq!(deadline_for(timeout(3600), None, lambda).1, Limit::Lambda);
    }

    /// The ResponseURL's signature says how long the event spent in Lambda's queue.
    #[tokio::test(start_paused = true)]
    async fn when_cloudformation_stops_waiting_is_read_from_the_signature() {
        let lambda = Instant::now() + Duration::from_secs(900);
        let until = SystemTime::now() + Duration::from_secs(120);
        let (deadline, limit) = deadline_for(None, Some(until), lambda);
        assert_eq!(limit, Limit::ServiceTimeout);
        let left = deadline - Instant::now();
        assert!(
            left <= Duration::from_secs(120) && left > Duration::from_secs(119),
            "{left:?}"
        );
        // Already over: no time at all.
        let past = SystemTime::now() - Duration::from_secs(10);
        assert_eq!(deadline_for(None, Some(past), lambda).0, Instant::now());
        let later = SystemTime::now() + Duration::from_secs(3600);
        assert_eq!(
            deadline_for(None, Some(later), lambda),
            (lambda, Limit::Lambda)
        );
    }

    #[test]
    fn an_event_runs_again_only_in_the_first_half_of_its_time_and_with_room_for_a_run() {
        let started = Instant::now();
        let at = |secs| started + Duration::from_secs(secs);
        // 295 s, as with the template's timeout: again up to 147.5 s in.
        assert!(may_run_again(started, at(10), at(295)));
        assert!(may_run_again(started, at(147), at(295)));
        assert!(!may_run_again(started, at(148), at(295)));
        // 25 s: again up to 12.5 s in; 9 s: never, a run needs 10.
        assert!(may_run_again(started, at(12), at(25)));
        assert!(!may_run_again(started, at(13), at(25)));
        assert!(!may_run_again(started, at(1), at(9)));
    }

    #[test]
    fn reserve_is_bounded() {
        assert_eq!(reserve(Duration::from_secs(900)), Duration::from_secs(5));
        assert_eq!(reserve(Duration::from_secs(5)), Duration::from_secs(1));
        assert_eq!(
            reserve(Duration::from_millis(100)),
            Duration::from_millis(300)
        );
    }

    fn success() -> Success {
        Success {
            physical_id: "arn".into(),
            association: None,
        }
    }

    #[tokio::test]
    async fn a_panic_becomes_a_failure_and_the_runtime_goes_on() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let outcome = supervise(|_| async { panic!("boom") }, deadline, Limit::Lambda).await;
        let failure = outcome.unwrap_err();
        assert!(
            failure
                .reason
                .starts_with("Internal error in cfn-eks-pod-identity: boom."),
            "{}",
            failure.reason
        );
        assert!(!failure.transient, "a panic is not run again");
        // The same runtime still runs the next operation.
        assert_eq!(
            supervise(|_| async { Ok(success()) }, deadline, Limit::Lambda).await,
            Ok(success())
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_answers_before_a_hanging_operation() {
        let start = Instant::now();
        let deadline = start + Duration::from_secs(60);
        // 60s less the 5s reserve kept for delivering the answer, which the operation is told.
        let cut_off = start + Duration::from_secs(55);
        let outcome = supervise(
            |given| {
                assert_eq!(given, cut_off);
                std::future::pending()
            },
            deadline,
            Limit::Lambda,
        )
        .await;
        assert!(outcome.unwrap_err().reason.starts_with("Timed out"));
        assert_eq!(Instant::now(), cut_off);
    }

    /// An operation the guard answered for is stopped, not left running: it would go on
    /// calling EKS after the answer (and, in Lambda, again after the next thaw).
    #[tokio::test(start_paused = true)]
    async fn an_operation_past_the_guard_is_stopped() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let went_on = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let outcome = supervise(
            |cut_off| {
                let went_on = Arc::clone(&went_on);
                async move {
                    tokio::time::sleep_until(cut_off + Duration::from_secs(1)).await;
                    went_on.store(true, Ordering::SeqCst);
                    Ok(success())
                }
            },
            start + Duration::from_secs(60),
            Limit::Lambda,
        )
        .await;
        assert!(outcome.unwrap_err().reason.starts_with("Timed out"));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(!went_on.load(Ordering::SeqCst), "the operation went on");
    }

    #[tokio::test(start_paused = true)]
    async fn removing_what_a_failed_event_made_leaves_the_answer_half_the_time_left() {
        // The operation hung until the guard: 5 s of the Lambda deadline are left.
        let start = Instant::now();
        let deadline = start + Duration::from_secs(5);
        let outcome = supervise(
            |_| std::future::pending(),
            undo_deadline(start, deadline),
            Limit::Lambda,
        )
        .await;
        assert!(outcome.is_err());
        let left = deadline - Instant::now();
        assert!(left >= Duration::from_millis(2500), "{left:?}");
        assert_eq!(
            undo_deadline(start, deadline),
            start + Duration::from_millis(2500)
        );
        assert_eq!(undo_deadline(deadline, deadline), deadline);
    }
}
