//! Exponential backoff with jitter, shared by every retry loop of our own (the response PUT,
//! IAM propagation, create conflicts); the AWS SDK has its own for throttling and 5xx.

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

/// A number in [0, 1) from the clock's nanoseconds: enough to spread retries, and no crate.
fn random_fraction() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
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
}
