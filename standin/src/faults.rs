//! Fault injection: make chosen EKS operations or bucket uploads fail, stall
//! or drop their connection, so tests can prove the function copes with the
//! failures real AWS produces.
//!
//! Rules are consulted in the order they were added; the first one that
//! applies to a request decides its fault.

use std::time::Duration;

use crate::ids::IdGen;

/// Which requests a fault applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultTarget {
    /// EKS requests: of the named operation (e.g. `"CreatePodIdentityAssociation"`), or any.
    Eks(Option<String>),
    /// PUTs to the response bucket.
    Bucket,
}

impl FaultTarget {
    /// Every EKS operation.
    pub fn any_eks() -> Self {
        FaultTarget::Eks(None)
    }

    /// One EKS operation, by its API name.
    pub fn eks(operation: &str) -> Self {
        FaultTarget::Eks(Some(operation.to_string()))
    }

    fn matches(&self, request: &Request<'_>) -> bool {
        match (self, request) {
            (FaultTarget::Eks(None), Request::Eks(_)) => true,
            (FaultTarget::Eks(Some(want)), Request::Eks(op)) => want == op,
            (FaultTarget::Bucket, Request::Bucket) => true,
            _ => false,
        }
    }
}

/// What happens to a request hit by a fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer with this error instead of handling the request (EKS-style JSON
    /// error for EKS, S3-style XML error for the bucket).
    Status {
        /// HTTP status code.
        status: u16,
        /// Error code: `x-amzn-ErrorType` for EKS, `<Code>` for the bucket. Empty for an
        /// EKS answer without one: the message is then the whole body, as plain text.
        error_type: String,
        /// Human-readable message.
        message: String,
    },
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Drop the connection with a TCP reset, sending no response.
    Reset,
    /// Handle the request, then drop the connection with a TCP reset before the response:
    /// the call took effect, and the client never learns that it did.
    ResetAfterHandling,
    /// A Create for the (region, cluster, namespace, service account) of an
    /// association deleted less than this long ago gets 409
    /// ResourceInUseException, like EKS's eventual consistency after a delete.
    /// Only Create requests that find such a recently deleted association
    /// consume it.
    ConflictAfterDelete(Duration),
}

impl Fault {
    /// Shorthand for [`Fault::Status`].
    pub fn status(status: u16, error_type: &str, message: &str) -> Self {
        Fault::Status {
            status,
            error_type: error_type.to_string(),
            message: message.to_string(),
        }
    }
}

/// One request that a fault was applied to.
#[derive(Debug, Clone, PartialEq)]
pub struct InjectedFault {
    /// The EKS operation name, or `"Bucket"`.
    pub request: String,
    /// The fault applied.
    pub fault: Fault,
}

/// A request as fault rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// An EKS call of this operation.
    Eks(&'a str),
    /// A bucket upload.
    Bucket,
}

impl Request<'_> {
    fn name(&self) -> String {
        match self {
            Request::Eks(op) => (*op).to_string(),
            Request::Bucket => "Bucket".to_string(),
        }
    }
}

#[derive(Debug)]
enum Rule {
    Counted {
        target: FaultTarget,
        fault: Fault,
        remaining: u32,
    },
    Random {
        target: FaultTarget,
        probability: f64,
        faults: Vec<Fault>,
    },
}

/// The fault rules and the record of faults applied.
#[derive(Debug, Default)]
pub struct FaultBook {
    rules: Vec<Rule>,
    injected: Vec<InjectedFault>,
}

impl FaultBook {
    /// The next `count` requests matching `target` get `fault`.
    pub fn inject(&mut self, target: FaultTarget, fault: Fault, count: u32) {
        if count > 0 {
            self.rules.push(Rule::Counted {
                target,
                fault,
                remaining: count,
            });
        }
    }

    /// Every request matching `target` gets, with `probability`, one of
    /// `faults` chosen uniformly, until [`clear`](Self::clear).
    pub fn inject_random(&mut self, target: FaultTarget, probability: f64, faults: Vec<Fault>) {
        if !faults.is_empty() && probability > 0.0 {
            self.rules.push(Rule::Random {
                target,
                probability: probability.min(1.0),
                faults,
            });
        }
    }

    /// Removes all rules (the record of applied faults stays).
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Faults applied so far, oldest first.
    pub fn injected(&self) -> &[InjectedFault] {
        &self.injected
    }

    /// Decides the fault, if any, for a request that just arrived.
    /// `ConflictAfterDelete` rules are skipped: they apply only through
    /// [`take_conflict_after_delete`](Self::take_conflict_after_delete).
    pub fn take(&mut self, request: Request<'_>, rng: &IdGen) -> Option<Fault> {
        let fault = self.rules.iter_mut().find_map(|rule| match rule {
            Rule::Counted {
                target,
                fault,
                remaining,
            } if *remaining > 0
                && target.matches(&request)
                && !matches!(fault, Fault::ConflictAfterDelete(_)) =>
            {
                *remaining -= 1;
                Some(fault.clone())
            }
            Rule::Random {
                target,
                probability,
                faults,
            } if target.matches(&request) => {
                let eligible: Vec<&Fault> = faults
                    .iter()
                    .filter(|f| !matches!(f, Fault::ConflictAfterDelete(_)))
                    .collect();
                if eligible.is_empty() || rng.next_f64() >= *probability {
                    None
                } else {
                    Some(eligible[rng.below(eligible.len())].clone())
                }
            }
            _ => None,
        })?;
        self.rules
            .retain(|r| !matches!(r, Rule::Counted { remaining: 0, .. }));
        self.record(request, fault.clone());
        Some(fault)
    }

    /// For a Create that finds an association of the same triple deleted
    /// `since_delete` ago: true if a `ConflictAfterDelete` rule makes it fail.
    pub fn take_conflict_after_delete(&mut self, since_delete: Duration, rng: &IdGen) -> bool {
        let request = Request::Eks("CreatePodIdentityAssociation");
        let fault = self.rules.iter_mut().find_map(|rule| match rule {
            Rule::Counted {
                target,
                fault: Fault::ConflictAfterDelete(window),
                remaining,
            } if *remaining > 0 && target.matches(&request) && since_delete <= *window => {
                *remaining -= 1;
                Some(Fault::ConflictAfterDelete(*window))
            }
            Rule::Random {
                target,
                probability,
                faults,
            } if target.matches(&request) => {
                let window = faults.iter().find_map(|f| match f {
                    Fault::ConflictAfterDelete(w) if since_delete <= *w => Some(f.clone()),
                    _ => None,
                })?;
                (rng.next_f64() < *probability).then_some(window)
            }
            _ => None,
        });
        self.rules
            .retain(|r| !matches!(r, Rule::Counted { remaining: 0, .. }));
        match fault {
            Some(fault) => {
                self.record(request, fault);
                true
            }
            None => false,
        }
    }

    fn record(&mut self, request: Request<'_>, fault: Fault) {
        self.injected.push(InjectedFault {
            request: request.name(),
            fault,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE: Request<'static> = Request::Eks("CreatePodIdentityAssociation");
    const DESCRIBE: Request<'static> = Request::Eks("DescribePodIdentityAssociation");

    fn throttle() -> Fault {
        Fault::status(429, "ThrottlingException", "Rate exceeded")
    }

    #[test]
    fn counted_faults_hit_exactly_count_matching_requests() {
        let rng = IdGen::with_seed(1);
        let mut book = FaultBook::default();
        book.inject(
            FaultTarget::eks("CreatePodIdentityAssociation"),
            throttle(),
            2,
        );
        assert_eq!(book.take(DESCRIBE, &rng), None);
        assert_eq!(book.take(Request::Bucket, &rng), None);
        assert_eq!(book.take(CREATE, &rng), Some(throttle()));
        assert_eq!(book.take(CREATE, &rng), Some(throttle()));
        assert_eq!(book.take(CREATE, &rng), None);
        assert_eq!(book.injected().len(), 2);
        assert_eq!(book.injected()[0].request, "CreatePodIdentityAssociation");
    }

    #[test]
    fn rules_apply_in_the_order_added() {
        let rng = IdGen::with_seed(1);
        let mut book = FaultBook::default();
        book.inject(FaultTarget::any_eks(), Fault::Reset, 1);
        book.inject(FaultTarget::any_eks(), throttle(), 1);
        book.inject(
            FaultTarget::Bucket,
            Fault::Delay(Duration::from_millis(5)),
            1,
        );
        assert_eq!(book.take(DESCRIBE, &rng), Some(Fault::Reset));
        assert_eq!(book.take(CREATE, &rng), Some(throttle()));
        assert_eq!(book.take(CREATE, &rng), None);
        assert_eq!(
            book.take(Request::Bucket, &rng),
            Some(Fault::Delay(Duration::from_millis(5)))
        );
        assert_eq!(book.injected().len(), 3);
        assert_eq!(book.injected()[2].request, "Bucket");
    }

    #[test]
    fn zero_count_injects_nothing() {
        let rng = IdGen::with_seed(1);
        let mut book = FaultBook::default();
        book.inject(FaultTarget::any_eks(), Fault::Reset, 0);
        assert_eq!(book.take(CREATE, &rng), None);
        assert!(book.injected().is_empty());
    }

    #[test]
    fn random_faults_hit_about_the_given_share_and_are_counted() {
        let rng = IdGen::with_seed(42);
        let mut book = FaultBook::default();
        book.inject_random(FaultTarget::any_eks(), 0.25, vec![throttle(), Fault::Reset]);
        let hits = (0..4000)
            .filter(|_| book.take(DESCRIBE, &rng).is_some())
            .count();
        assert!((800..1200).contains(&hits), "{hits}");
        assert_eq!(book.injected().len(), hits);
        assert!(book.injected().iter().any(|f| f.fault == Fault::Reset));
        assert!(book.injected().iter().any(|f| f.fault == throttle()));
        book.clear();
        assert_eq!(book.take(DESCRIBE, &rng), None);
        assert_eq!(book.injected().len(), hits);
    }

    #[test]
    fn conflict_after_delete_is_only_consumed_by_creates_inside_the_window() {
        let rng = IdGen::with_seed(1);
        let mut book = FaultBook::default();
        book.inject(
            FaultTarget::any_eks(),
            Fault::ConflictAfterDelete(Duration::from_secs(5)),
            1,
        );
        // Ordinary requests pass it by.
        assert_eq!(book.take(CREATE, &rng), None);
        assert!(!book.take_conflict_after_delete(Duration::from_secs(6), &rng));
        assert!(book.take_conflict_after_delete(Duration::from_secs(1), &rng));
        assert!(!book.take_conflict_after_delete(Duration::from_secs(1), &rng));
        assert_eq!(book.injected().len(), 1);
    }
}
