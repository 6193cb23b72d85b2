//! What an event's Create calls have done, as far as the event can tell: shared between the
//! operation that makes the calls and the supervisor that answers for it, so that a failed
//! event's answer, and its undo, name what the stack's Delete must remove.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// What this event's Create calls have done, shared with the supervisor so that the answer
/// to a failed Create names what the stack's Delete must remove: the association, if one is
/// known; nothing at all, if no call may have made one; and otherwise a Create whose effect
/// is unknown (a call timed out, met a conflict it could not attribute, or a server error,
/// or the deadline or a panic cut it off).
///
/// A call made nothing when EKS refused it as it would refuse any, throttled each of its
/// attempts, or none of them reached EKS (see
/// [`EksError::changed_nothing`](crate::eks::EksError::changed_nothing)); that clears no
/// doubt an earlier call of the event left, and in a run that is not surely the event's
/// first, it leaves the earlier run's in doubt. An association of someone else's holding
/// the service account clears all of it: EKS allows one per service account.
///
/// A replacement Update also records that its new service account had no association
/// before its Create: whatever this resource owns there afterwards, that Create made (see
/// [`Progress::may_have_replaced`]).
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Mutex<Created>>);

#[derive(Debug, Default)]
struct Created {
    association: Option<String>,
    /// A Create was sent and has not been answered.
    in_flight: bool,
    /// A Create was answered in a way that leaves its effect unknown.
    in_doubt: bool,
    placement_was_free: bool,
    /// This is surely the event's first run ([`Progress::first_run`]).
    first_run: bool,
    /// When this run sent its first Create.
    first_sent: Option<SystemTime>,
}

impl Created {
    fn may_have_created(&self) -> bool {
        self.association.is_some() || self.in_flight || self.in_doubt
    }
}

impl Progress {
    /// The progress of an event's first run, which no earlier run of it can have made
    /// anything before (see [`crate::late::first_run`]). Otherwise, `Progress::default()`.
    pub fn first_run() -> Progress {
        let progress = Progress::default();
        progress.lock().first_run = true;
        progress
    }

    /// Records a CreatePodIdentityAssociation about to be sent: until its answer, an
    /// association may exist that nothing has reported.
    pub fn sending(&self) {
        let mut created = self.lock();
        created.in_flight = true;
        created.first_sent.get_or_insert_with(SystemTime::now);
    }

    /// Records that the Create just sent made nothing (EKS refused or throttled each attempt,
    /// or none reached it). An earlier run of the event (Lambda runs one again when its
    /// answer was not delivered) may have made the association with the same token, unless
    /// this is surely the first: a Create that fails does not return what the token made, as
    /// one that gets through does.
    pub fn made_nothing(&self) {
        let mut created = self.lock();
        created.in_flight = false;
        if !created.first_run {
            created.in_doubt = true;
        }
    }

    /// Records that the Create just sent failed in a way that leaves its effect unknown.
    pub fn outcome_unknown(&self) {
        let mut created = self.lock();
        created.in_flight = false;
        created.in_doubt = true;
    }

    /// Records that an association this resource does not own holds the service account, so
    /// that none of this event's Creates made one there.
    pub fn taken_by_another(&self) {
        let mut created = self.lock();
        created.in_flight = false;
        created.in_doubt = false;
    }

    /// Records the association this event created, or found it already owns. (Every Create
    /// of the event carries the same token, so any that took effect made this one.)
    pub fn created(&self, arn: &str) {
        let mut created = self.lock();
        created.association = Some(arn.to_owned());
        created.in_flight = false;
        created.in_doubt = false;
    }

    /// Records that the association the Create answered with no longer exists: the token's
    /// repeat of one an earlier run made and then removed. Nothing this event made remains,
    /// since every Create of the event carries that token.
    pub fn created_but_removed_since(&self) {
        let mut created = self.lock();
        created.association = None;
        created.in_flight = false;
        created.in_doubt = false;
    }

    /// Whether an association a Create answered with, made at `created_at`, may be what an
    /// earlier run of the event made: this is not surely the first run, and the association
    /// is older than this run's first Create, by more than EKS's clock and this one's may
    /// differ, or its age is unknown. (An earlier run ended a minute or more before this one
    /// began: Lambda runs an event again no sooner.)
    pub fn may_be_an_earlier_runs(&self, created_at: Option<SystemTime>) -> bool {
        let created = self.lock();
        if created.first_run {
            return false;
        }
        match (created_at, created.first_sent) {
            (Some(at), Some(sent)) => at + CLOCKS_DIFFER_BY < sent,
            _ => true,
        }
    }

    /// The association this event created, if any.
    pub fn created_arn(&self) -> Option<String> {
        self.lock().association.clone()
    }

    /// Whether this event may have created an association: one is known, a Create is still
    /// unanswered, or one was answered in a way that leaves its effect unknown.
    pub fn may_have_created(&self) -> bool {
        self.lock().may_have_created()
    }

    /// Records that the service account a replacement is for had no association when this
    /// event looked, before its Create.
    pub fn found_placement_free(&self) {
        self.lock().placement_was_free = true;
    }

    /// Whether this event is a replacement that found its service account free, and so may
    /// create an association there.
    pub fn placement_was_free(&self) -> bool {
        self.lock().placement_was_free
    }

    /// Whether a replacement may have made an association that nothing else will remove:
    /// its service account was free before, and a Create may have taken it since. An
    /// association found there already owned (a rollback returning to it) is never counted.
    pub fn may_have_replaced(&self) -> bool {
        let created = self.lock();
        created.placement_was_free && created.may_have_created()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Created> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How much older than a run's first Create an association it answers with must be to be
/// taken for an earlier run's: a margin for EKS's clock and Lambda's, well under the minute
/// or more between two runs. Within it, an association this run made is not described
/// moments after its Create, when a read might not see it yet.
pub const CLOCKS_DIFFER_BY: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_later_runs_create_answered_with_an_older_association_is_checked() {
        let long_ago = SystemTime::now() - Duration::from_secs(90);
        let now = || Some(SystemTime::now());
        let first = Progress::first_run();
        first.sending();
        assert!(!first.may_be_an_earlier_runs(Some(long_ago)), "a first run");

        let later = Progress::default();
        later.sending();
        assert!(later.may_be_an_earlier_runs(Some(long_ago)));
        assert!(later.may_be_an_earlier_runs(None), "of unknown age");
        assert!(!later.may_be_an_earlier_runs(now()), "made by this run");
        // Counted from the run's first Create, not from a later one's (a rerun after
        // throttling, whose Create gets back what the first made).
        let first_sent = later.lock().first_sent;
        std::thread::sleep(Duration::from_millis(20));
        later.sending();
        assert_eq!(later.lock().first_sent, first_sent);
        let skewed = SystemTime::now() - CLOCKS_DIFFER_BY / 2;
        assert!(!later.may_be_an_earlier_runs(Some(skewed)), "clocks differ");
    }

    #[test]
    fn a_create_that_made_nothing_clears_no_doubt_an_earlier_one_left() {
        let progress = Progress::first_run();
        assert!(!progress.may_have_created());
        progress.sending();
        assert!(progress.may_have_created(), "unanswered");
        progress.made_nothing();
        assert!(!progress.may_have_created(), "the only Create made nothing");
        // A Create timed out; the next one (same token) never reached EKS: the first may
        // still have made the association.
        progress.sending();
        progress.outcome_unknown();
        progress.sending();
        progress.made_nothing();
        assert!(progress.may_have_created());
        // Someone else's association holds the service account: none of ours is there.
        progress.taken_by_another();
        assert!(!progress.may_have_created());
        progress.created("arn:made");
        assert_eq!(progress.created_arn().as_deref(), Some("arn:made"));
        assert!(progress.may_have_created());
    }

    #[test]
    fn an_association_older_than_the_clocks_margin_may_be_an_earlier_runs() {
        let later = Progress::default();
        let sent = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        later.lock().first_sent = Some(sent);
        assert!(!later.may_be_an_earlier_runs(Some(sent - CLOCKS_DIFFER_BY)));
        let older = sent - CLOCKS_DIFFER_BY - Duration::from_millis(1);
        assert!(later.may_be_an_earlier_runs(Some(older)));
    }

    /// A replacement counts what it may have made only at a service account it found free,
    /// and nothing once the association its Create answered with turns out to be gone.
    #[test]
    fn a_replacement_may_have_replaced_only_at_a_service_account_it_found_free() {
        let adopted = Progress::first_run();
        adopted.sending();
        adopted.created("arn:found");
        assert!(!adopted.placement_was_free());
        assert!(!adopted.may_have_replaced(), "found there already owned");

        let replacement = Progress::default();
        replacement.found_placement_free();
        assert!(replacement.placement_was_free());
        assert!(!replacement.may_have_replaced(), "nothing sent yet");
        replacement.sending();
        assert!(replacement.may_have_replaced(), "unanswered");
        replacement.created("arn:made");
        assert!(replacement.may_have_replaced());
        replacement.created_but_removed_since();
        assert_eq!(replacement.created_arn(), None);
        assert!(!replacement.may_have_created());
        assert!(!replacement.may_have_replaced());
    }

    /// A later run's Create that made nothing says nothing of what the event's first run
    /// made with the same token: the answer must leave the stack's Delete to look.
    #[test]
    fn a_later_runs_create_that_made_nothing_leaves_the_earlier_runs_in_doubt() {
        let later = Progress::default();
        assert!(!later.may_have_created(), "nothing sent yet");
        later.sending();
        later.made_nothing();
        assert!(later.may_have_created());
        // Someone else's association at the service account still rules ours out.
        later.taken_by_another();
        assert!(!later.may_have_created());
    }
}
