//! Exponential backoff with jitter, shared by every retry loop of our own (the response PUT,
//! IAM propagation, create conflicts, a Delete's repeated looks, an event's reruns after
//! throttling); the AWS SDK has its own for each call's throttling and 5xx.

use std::time::Duration;

/// Pauses that double from a first one up to a ceiling, each with jitter.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Starts at `first`, doubling up to `max`.
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { next: first, max }
    }

    /// The next pause: somewhere between half of the current step and the whole of it, so
    /// that many instances retrying at once do not retry in step.
    pub fn next_pause(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        step.mul_f64(0.5 + random_fraction() / 2.0)
    }
}

/// A number in [0, 1), different at each call and in each process: std's `RandomState` is
/// seeded from the operating system's randomness once per thread, and std makes each new
/// one differ (an implementation detail, not a documented promise: were it to stop, every
/// pause would still be within its bounds, only without jitter). No crate, and no
/// dependence on the clock's resolution (a clock that counts in microseconds would give
/// nanoseconds that are all multiples of 1000, and so no jitter).
fn random_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    // The top 53 bits, as many as an f64 holds exactly.
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_ceiling_with_jitter_below_each_step() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        for step in [1, 2, 4, 5, 5] {
            let pause = backoff.next_pause();
            let step = Duration::from_secs(step);
            assert!(
                pause >= step / 2 && pause <= step,
                "{pause:?} for a step of {step:?}"
            );
        }
    }

    #[test]
    fn instances_starting_together_pause_for_different_times() {
        let first = Duration::from_secs(1);
        let mut pauses: Vec<Duration> = (0..20)
            .map(|_| Backoff::new(first, first).next_pause())
            .collect();
        pauses.sort();
        pauses.dedup();
        // Pauses in [0.5 s, 1 s) count in nanoseconds: 5×10⁸ values, so two of twenty are
        // equal by chance about once in 2.5 million runs. More often means no jitter.
        assert_eq!(pauses.len(), 20, "{pauses:?}");
    }
}
