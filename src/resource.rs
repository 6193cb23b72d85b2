//! The resource itself: Create, Update and Delete of one pod identity association, each a
//! short function that reads the event, asks `plan` what to do and asks `eks` to do it; and
//! the waits those need around EKS's eventual consistency: IAM propagation and conflict
//! retries in a Create, a Delete's repeated looks for what an abandoned Create made, and a
//! rollback's look for what a cancelled replacement made.

use crate::arn::{AssociationArn, Home};
use crate::backoff::Backoff;
use crate::eks::{Eks, EksError, ErrorKind};
use crate::event::Request;
use crate::late;
use crate::plan::{
    changes, keep_by_arn, keep_by_state, made_by_unreported_replacement, made_too_late,
    Association, Owner, Replacement,
};
use crate::progress::Progress;
use crate::properties::{DesiredAssociation, Placement, PropertyErrors};
use std::future::Future;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;
use tracing::{info, warn};

/// What a successful event reports to CloudFormation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Success {
    /// The association's ARN (or, for a Delete, the id CloudFormation sent).
    pub physical_id: String,
    /// The association, for the GetAtt attributes; `None` after a Delete.
    pub association: Option<Association>,
}

/// Why an event failed, for the FAILED response's Reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// For a person: names the property, the call or the rule.
    pub reason: String,
    /// EKS throttled a call, or failed it with a server error, after the SDK's own retries
    /// (see [`EksError::is_transient`]): running the event again a little later may succeed.
    pub transient: bool,
}

impl Failure {
    /// A failure that running the event again is not worth it for.
    pub fn new(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            transient: false,
        }
    }
}

impl From<EksError> for Failure {
    fn from(error: EksError) -> Failure {
        Failure {
            reason: error.to_string(),
            transient: error.is_transient(),
        }
    }
}

impl From<PropertyErrors> for Failure {
    fn from(errors: PropertyErrors) -> Failure {
        Failure::new(errors.to_string())
    }
}

/// What every operation needs besides the event.
pub struct Context<'a> {
    /// The EKS clients.
    pub eks: &'a Eks,
    /// The region used when the template names none.
    pub default_region: &'a str,
    /// The stack resource this event is for.
    pub owner: Owner,
    /// The idempotency token derived from the event (same event, same token).
    pub token: String,
    /// Where a created association is recorded.
    pub progress: Progress,
    /// When the supervisor ends the operation, keeping the rest of the time for the answer.
    pub cut_off: Instant,
    /// Where this function runs (from the ARN it was invoked by); `None` when that does not
    /// say.
    pub home: Option<Home>,
    /// Whether this may be a later run of its event (see [`Rerun`]).
    pub rerun: Rerun,
}

/// Whether a run may be a later one of its event, and what a look for what an abandoned
/// Create or replacement made then needs to know. An earlier run may have answered, and
/// CloudFormation deployed the resource again since: such a look leaves what this resource
/// owns but was made too late to be that (see [`made_too_late`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Rerun {
    /// In a run that may not be the event's first, when CloudFormation sent the event (its
    /// ResponseURL's signing time); `None` in a run that is surely the first (the undo of a
    /// failed event is of its run), or when the event does not say.
    pub event_sent: Option<SystemTime>,
    /// The function's time limit, which every run of the event has.
    pub time_limit: Duration,
}

impl Context<'_> {
    /// Runs a check that needs to know where the function runs (its account and partition:
    /// see [`DesiredAssociation::check_role_to_send`]); none when that is not known.
    fn check_at_home(
        &self,
        check: impl FnOnce(&Home) -> Result<(), PropertyErrors>,
    ) -> Result<(), PropertyErrors> {
        self.home.as_ref().map_or(Ok(()), check)
    }
}

/// Create: validate, then CreatePodIdentityAssociation with the event's token.
pub async fn create(ctx: &Context<'_>, request: &Request) -> Result<Success, Failure> {
    let desired = DesiredAssociation::of_new_resource(
        &request.properties,
        ctx.default_region,
        ctx.home.as_ref(),
    )?;
    create_association(ctx, &desired).await
}

/// Update: replace when a replacement property changed or the association is gone; otherwise
/// change only what differs from what EKS reports, and, when this rolls back a replacement
/// that never reported its association, remove that association.
pub async fn update(ctx: &Context<'_>, request: &Request) -> Result<Success, Failure> {
    let desired = DesiredAssociation::from_properties(&request.properties, ctx.default_region)?;
    // Nothing in another partition can be reached: refused before any call, naming Region.
    ctx.check_at_home(|home| desired.check_region_at_home(home, ctx.default_region))?;
    let current = request
        .physical_resource_id
        .as_deref()
        .and_then(AssociationArn::parse);
    let arn = match keep_by_arn(&desired, current) {
        Ok(arn) => arn,
        Err(why) => return replace(ctx, &desired, why).await,
    };
    let association = match keep_by_state(&desired, ctx.eks.describe(&arn).await?) {
        Ok(association) => association,
        Err(why) => return replace(ctx, &desired, why).await,
    };
    let known = association.clone();
    let kept = converge(ctx, &desired, association).await?;
    if let Some(moved_to) = unreported_replacement(ctx, request, &desired) {
        remove_unreported_replacement(ctx, &moved_to, &known).await;
    }
    Ok(kept)
}

/// Where a replacement this Update rolls back may have made an association that
/// CloudFormation never heard of, if it may have.
///
/// The association CloudFormation knows is already where the template asks, yet the
/// properties it replaces named another service account: the update to those never
/// reported a new id. It failed, and removed what it made if it could; or CloudFormation
/// cancelled it, because another resource failed, and ignores its answer while it runs on.
/// Either way CloudFormation deletes only the ids it was told, so what that replacement made
/// there, nothing else will remove.
fn unreported_replacement(
    ctx: &Context<'_>,
    request: &Request,
    desired: &DesiredAssociation,
) -> Option<Placement> {
    let old = request.old_properties.as_ref()?;
    let old = DesiredAssociation::from_properties(old, ctx.default_region).ok()?;
    (old.placement != desired.placement).then_some(old.placement)
}

/// One look at `placement`, after the rollback's own work, removing what the replacement made
/// there: associations this resource owns, made after `known`, the one CloudFormation knows
/// (see [`made_by_unreported_replacement`]). Best effort: an error, or a look still running
/// [`AFTER_LAST_LOOK`] before the cut-off, is logged rather than failing the rollback, which
/// would leave the stack in UPDATE_ROLLBACK_FAILED for want of a clean-up. A replacement still
/// running after this look can still leave its association behind (README, "Update,
/// replacement and rollback").
async fn remove_unreported_replacement(
    ctx: &Context<'_>,
    placement: &Placement,
    known: &Association,
) {
    info!(?placement, "rolling back a replacement that never reported its association: removing what it made at its service account");
    let Some(ends_by) = ctx.cut_off.checked_sub(AFTER_LAST_LOOK) else {
        return;
    };
    // A run again spares what was made after the event was sent: the replacement began
    // before, but a later deployment's replacement made it since.
    let made_by_it = |found: &Association| {
        if !made_by_unreported_replacement(found, known, &ctx.owner) {
            Some("not deleting an association this stack resource had before")
        } else {
            made_too_late(found, ctx.rerun.event_sent)
        }
    };
    let removed = async { remove_owned(ctx, ctx.eks.find(placement).await?, made_by_it).await };
    match tokio::time::timeout_at(ends_by, removed).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            warn!(%error, "could not look there, or remove what was found; passed over")
        }
        Err(_) => warn!("removing it took too long; passed over"),
    }
}

/// Makes an existing association match the template, doing only what differs.
async fn converge(
    ctx: &Context<'_>,
    desired: &DesiredAssociation,
    mut association: Association,
) -> Result<Success, Failure> {
    let arn = readable_arn(&association)?;
    let changes = changes(desired, &association, &ctx.owner);
    PropertyErrors::together([
        match changes.settings.policy {
            Some(_) => desired.check_policy_to_send(),
            None => Ok(()),
        },
        match changes.settings.role_arn {
            Some(_) => ctx.check_at_home(|home| desired.check_role_to_send(home)),
            None => Ok(()),
        },
    ])?;
    info!(
        settings = ?changes.settings,
        tags_to_set = ?changes.tags_to_set.keys().collect::<Vec<_>>(),
        tags_to_remove = ?changes.tags_to_remove,
        "updating in place"
    );
    // Settings first, and the tags only once EKS has taken them: a role EKS refuses (not
    // passable, or still unknown to IAM after the propagation window) then fails the event
    // having changed nothing, rather than leave the new tags on the old settings.
    if !changes.settings.is_empty() {
        association = retry_iam_propagation(ctx.cut_off, || {
            ctx.eks.update(&arn, &changes.settings, &ctx.token)
        })
        .await?;
    }
    // Removed tags go first: with the tags at EKS's limit, a key added before another is
    // removed would be one too many, and EKS refuses the whole TagResource.
    if !changes.tags_to_remove.is_empty() {
        ctx.eks.untag(&arn, &changes.tags_to_remove).await?;
    }
    if !changes.tags_to_set.is_empty() {
        ctx.eks.tag(&arn, &changes.tags_to_set).await?;
    }
    Ok(Success {
        physical_id: association.arn.clone(),
        association: Some(association),
    })
}

/// Delete: remove the association named by the PhysicalResourceId, if this stack resource
/// owns it. The id of a Create that made nothing needs no EKS call. Any other id that is not
/// an association ARN (the placeholder of a Create whose effect is unknown, or one
/// CloudFormation invented after giving up on a Create that may since have succeeded, or may
/// still) is looked up by the properties' service account instead, and removed under the
/// same ownership rule, for as long as that Create may still make something; an event
/// without an id (a failed event's undo that knows no association) is looked up once. What
/// is already gone, association or cluster, is what Delete wants anyway.
pub async fn delete(ctx: &Context<'_>, request: &Request) -> Result<Success, Failure> {
    let physical_id = request.physical_resource_id.clone().unwrap_or_default();
    let done = Success {
        physical_id: physical_id.clone(),
        association: None,
    };
    if is_nothing_created_id(&physical_id) {
        info!("the Create this Delete follows made nothing: nothing to delete");
        return Ok(done);
    }
    let arns = match AssociationArn::parse(&physical_id) {
        Some(arn) => vec![arn],
        None => {
            match DesiredAssociation::from_properties(&request.properties, ctx.default_region) {
                // Properties that never validated never created anything.
                Err(_) => {
                    info!("the PhysicalResourceId is not an association ARN and the properties are invalid: nothing to delete");
                    return Ok(done);
                }
                // CloudFormation always sends an id. Without one (a failed event's undo that
                // knows no association, or a hand-made event), one look, not a wait for a
                // Create that may still make something.
                Ok(desired) if physical_id.is_empty() => {
                    info!(
                        "no PhysicalResourceId: looking once for an association this resource owns"
                    );
                    ctx.eks.find(&desired.placement).await?
                }
                Ok(desired) => {
                    let placeholder = is_placeholder_id(&physical_id);
                    if placeholder {
                        info!("the PhysicalResourceId is the placeholder of a Create whose effect is unknown: looking for an association this resource owns");
                    } else {
                        info!("the PhysicalResourceId is one CloudFormation invented: looking for an association this resource owns");
                    }
                    remove_after_abandoned_create(ctx, &desired, placeholder).await?;
                    return Ok(done);
                }
            }
        }
    };
    remove_owned(ctx, arns, |_| None).await?;
    Ok(done)
}

/// Deletes those of `arns` that this stack resource owns and that `spare` names no reason to
/// keep; what is already gone is what a Delete wants anyway.
async fn remove_owned(
    ctx: &Context<'_>,
    arns: Vec<AssociationArn>,
    spare: impl Fn(&Association) -> Option<&'static str>,
) -> Result<(), EksError> {
    for arn in arns {
        match ctx.eks.describe(&arn).await? {
            None => info!(association = %arn, "already gone"),
            Some(found) if !ctx.owner.owns(&found.tags) => {
                warn!(association = %arn, "not deleting an association this stack resource does not own")
            }
            Some(found) => match spare(&found) {
                Some(why) => info!(association = %arn, "{why}"),
                None => {
                    ctx.eks.delete(&arn).await?;
                    info!(association = %arn, "deleted");
                }
            },
        }
    }
    Ok(())
}

/// Time kept after the last look for an abandoned Create: to remove what it finds, and to
/// answer.
const AFTER_LAST_LOOK: Duration = Duration::from_secs(5);
/// The longest one of the later looks may take (a List takes well under a second); none ends
/// later than this after the last look is due, leaving the rest for removing what it finds.
const LOOK_LIMIT: Duration = Duration::from_secs(2);

/// Removes what this resource owns at the service account of a resource whose id
/// CloudFormation invented, or whose Create failed with its effect unknown, until that Create
/// can no longer make anything.
///
/// CloudFormation invents the id when it gives up on a Create that has not answered (another
/// resource failed, or the stack was cancelled), and sends the Delete at once, while that
/// Create may still be running: waiting out IAM propagation, say, and about to succeed, or
/// about to run again after throttling. An association made after this Delete had looked
/// would be left behind, owned by a stack resource that no longer exists, and holding the
/// service account against the next deployment. Nor does finding one end it: a Create whose
/// answer was lost sends its token again, and EKS may make another association for a token
/// whose association is gone. So, while the cluster is there, look again until the Create can
/// no longer be running: it began earlier, under the same function's time limit, so by this
/// Delete's last look it has been cut off, unless it began less than [`AFTER_LAST_LOOK`]
/// earlier and ran to its limit. Nothing shorter bounds it: its IAM propagation and conflict
/// windows start again with each other, and each call may take five attempts of 20 s. Such
/// a Delete takes that long, whatever it finds.
///
/// A failed Create's placeholder is the same case: that Create has answered, but answering
/// withdraws no request EKS already has. A call the deadline cut off, or an attempt that
/// timed out, is carried out whether or not anyone waits for its answer, and can make the
/// association after this Delete first looked; how long EKS may hold it is not bounded either.
///
/// Once a look has succeeded, a later one that fails or hangs is passed over, as it can only
/// miss what another finds. A removal that fails is kept, and tried again by the next look
/// that gets through: one failed call late in the wait, with no time left to run the event
/// again, must not fail the Delete, nor one early be forgotten. It fails the Delete only if
/// no later look removed what it found or found nothing of this resource's left. While no
/// look has succeeded, looking goes on too, and if none ever does, the errors decide: when
/// each was one that EKS would have given the Create as well (refused: not permitted, a
/// region not enabled; or never reached: a region with no endpoint), that Create made
/// nothing, and the Delete succeeds rather than leave the rollback stuck; any other among
/// them (throttling, server errors) leaves that unknown, and fails the Delete with the last
/// error: a single look that met no endpoint, say, after others that reached EKS, proves
/// nothing. (A look that took too long is passed over.) Not so after a `placeholder`: that Create answered that
/// a request of it may have reached EKS, so that no error tells what it made, and any fails.
async fn remove_after_abandoned_create(
    ctx: &Context<'_>,
    desired: &DesiredAssociation,
    placeholder: bool,
) -> Result<(), EksError> {
    // In a run again, when the first run's looks would have ended, had it begun when the
    // event was sent: what the abandoned Create made, they would have seen (it began earlier,
    // under the same limit). That is past, so all that qualifies is there already: one look
    // that gets through, and removes what it finds, is enough. A first run looks until its time is nearly up, so Lambda runs
    // it again no sooner than its limit and a minute after the event was sent; a run sooner
    // than that was held in Lambda's queue, is most likely the first, and takes everything
    // (as the Create, held alike, may make its association after that time).
    let rerun_after = ctx.rerun.time_limit + late::SOONEST_RETRY;
    let first_run_ended = ctx
        .rerun
        .event_sent
        .filter(|sent| {
            SystemTime::now()
                .duration_since(*sent)
                .is_ok_and(|age| age >= rerun_after)
        })
        .and_then(|sent| sent.checked_add(ctx.rerun.time_limit));
    let mut looked = Instant::now();
    let last_look = last_look(looked, ctx.cut_off);
    // What a removal met, until a later look gets through and removes what it finds or
    // finds nothing of this resource's left.
    let mut unremoved = None;
    let removal_failed =
        |error: &EksError| warn!(%error, "removing what was found failed; looking again");
    // The last error, while no look has succeeded.
    let mut failing = match ctx.eks.list(&desired.placement).await {
        // The cluster is gone, and no Create can make anything there.
        Ok(None) => return Ok(()),
        Ok(Some(found)) => {
            unremoved = remove_owned(ctx, found, |found| made_too_late(found, first_run_ended))
                .await
                .inspect_err(removal_failed)
                .err();
            if first_run_ended.is_some() && unremoved.is_none() {
                return Ok(());
            }
            None
        }
        Err(error) => {
            warn!(%error, "looking failed; looking again");
            Some(error)
        }
    };
    // While no look has succeeded: whether every look failed as the Create would have.
    let mut all_as_the_create = failing.as_ref().is_none_or(EksError::would_meet_any_call);
    if failing.is_none() {
        info!(
            for_up_to = ?last_look.saturating_duration_since(Instant::now()),
            "the Create may still make an association; looking again"
        );
    }
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(10));
    // Until a look has begun at `last_look` or after: one begun just before may have ended
    // after it, having missed what was made meanwhile.
    while looked < last_look {
        tokio::time::sleep_until((Instant::now() + backoff.next_pause()).min(last_look)).await;
        looked = Instant::now();
        let ends_by = (looked + LOOK_LIMIT).min(last_look + LOOK_LIMIT);
        match tokio::time::timeout_at(ends_by, ctx.eks.list(&desired.placement)).await {
            Ok(Ok(None)) => return Ok(()),
            Ok(Ok(Some(found))) => {
                failing = None;
                unremoved = remove_owned(ctx, found, |found| made_too_late(found, first_run_ended))
                    .await
                    .inspect_err(removal_failed)
                    .err();
                if first_run_ended.is_some() && unremoved.is_none() {
                    return Ok(());
                }
            }
            Ok(Err(error)) => {
                warn!(%error, "looking again failed; passed over");
                if failing.is_some() {
                    all_as_the_create &= error.would_meet_any_call();
                    failing = Some(error);
                }
            }
            // Says nothing either way: the SDK may still have been retrying a connection
            // that no endpoint answers, as for a Region that has none.
            Err(_) => warn!(limit = ?LOOK_LIMIT, "looking again took too long; passed over"),
        }
    }
    if let Some(error) = unremoved {
        return Err(error);
    }
    match failing {
        Some(error) if placeholder || !all_as_the_create => Err(error),
        Some(error) => {
            warn!(%error, "no look got through, each refused as the Create would have been: it made nothing");
            Ok(())
        }
        None => Ok(()),
    }
}

/// When a Delete that began at `now` takes its last look for an abandoned Create:
/// [`AFTER_LAST_LOOK`] before its cut-off, and never before `now`.
fn last_look(now: Instant, cut_off: Instant) -> Instant {
    cut_off.checked_sub(AFTER_LAST_LOOK).unwrap_or(now).max(now)
}

const NOTHING_CREATED: &str = "cfn-eks-pod-identity-nothing-created-";
const PLACEHOLDER: &str = "cfn-eks-pod-identity-";

/// The PhysicalResourceId of a Create that failed having made nothing (EKS refused every
/// call, or none was sent): the Delete that follows then succeeds without calling EKS, as
/// the protocol requires. Looking the service account up instead could fail for the very
/// reason the Create did, a denied permission or a wrong region, and leave the stack's
/// rollback stuck. (The CDK provider framework marks its failed Creates the same way.)
pub fn nothing_created_id(token: &str) -> String {
    format!("{NOTHING_CREATED}{token}")
}

/// The PhysicalResourceId of a failed event that has none better: for a Create, one whose
/// outcome is unknown (a call timed out, or the deadline cut it off), which its Delete looks
/// up.
pub fn placeholder_id(token: &str) -> String {
    format!("{PLACEHOLDER}{token}")
}

/// Whether `id` is a [`nothing_created_id`]: the marker and a token shaped like a UUID, so
/// that an id CloudFormation invents for a stack whose name begins like the marker is still
/// looked up.
fn is_nothing_created_id(id: &str) -> bool {
    id.strip_prefix(NOTHING_CREATED).is_some_and(is_token)
}

/// Whether `id` is a [`placeholder_id`], by the same rule.
fn is_placeholder_id(id: &str) -> bool {
    id.strip_prefix(PLACEHOLDER).is_some_and(is_token)
}

/// Whether `token` is shaped like the UUIDs `request_token` makes.
fn is_token(token: &str) -> bool {
    token.len() == 36
        && token.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

/// Looks before it creates: a rollback returns to the association this resource still owns
/// there, and a service account known to be free is what lets a failed replacement remove
/// what its Create may have made, where a look-up afterwards could not tell that from an
/// association this resource already had.
async fn replace(
    ctx: &Context<'_>,
    desired: &DesiredAssociation,
    why: Replacement,
) -> Result<Success, Failure> {
    match existing_association(ctx, desired).await? {
        Some(existing) if ctx.owner.owns(&existing.tags) => {
            info!(?why, association = %existing.arn, "returning to the association this resource already owns");
            converge(ctx, desired, existing).await
        }
        Some(existing) => Err(conflict(desired, &existing.id)),
        None => {
            ctx.progress.found_placement_free();
            info!(?why, "creating a new association");
            // A replacement sends every property, as a Create does; but, as any Update, it may
            // bring back a TargetRoleArn or Tags an earlier version accepted, which must still
            // deploy (see the `check_*_of_new_resource` methods): RoleArn and Policy only.
            PropertyErrors::together([
                desired.check_policy_to_send(),
                ctx.check_at_home(|home| desired.check_role_to_send(home)),
            ])?;
            create_association(ctx, desired).await
        }
    }
}

/// How long a Create keeps retrying a conflict with an association that is being deleted
/// (EKS deletes are eventually consistent: the triple stays taken for a few seconds).
const CONFLICT_WINDOW: Duration = Duration::from_secs(30);
/// How long a Create has retried conflicts: [`CONFLICT_WINDOW`] from the first, not from the
/// first try, as time spent waiting out IAM propagation is not time the delete had.
#[derive(Debug, Default)]
struct ConflictWindow {
    opened: Option<Instant>,
}

impl ConflictWindow {
    /// Whether a conflict met now may still be retried; the first one opens the window.
    fn still_open(&mut self) -> bool {
        self.opened.get_or_insert_with(Instant::now).elapsed() < CONFLICT_WINDOW
    }
}

/// How long a role may take to propagate through IAM (Terraform's figure).
const IAM_PROPAGATION_WINDOW: Duration = Duration::from_secs(120);

/// CreatePodIdentityAssociation for `desired`, once the caller has checked what it sends: the
/// resource's first association ([`create`]), or an Update's replacement ([`replace`]).
async fn create_association(
    ctx: &Context<'_>,
    desired: &DesiredAssociation,
) -> Result<Success, Failure> {
    let mut tags = desired.tags.clone();
    tags.extend(ctx.owner.tags());
    let mut conflicts = ConflictWindow::default();
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
    loop {
        let send = || async {
            ctx.progress.sending();
            let outcome = ctx.eks.create(desired, tags.clone(), &ctx.token).await;
            match &outcome {
                Ok(association) => ctx.progress.created(&association.arn),
                Err(error) if error.changed_nothing() => ctx.progress.made_nothing(),
                Err(_) => ctx.progress.outcome_unknown(),
            }
            outcome
        };
        let error = match retry_iam_propagation(ctx.cut_off, send).await {
            Ok(association) => {
                let association = still_there(ctx, association).await?;
                info!(association = %association.arn, "created");
                return Ok(Success {
                    physical_id: association.arn.clone(),
                    association: Some(association),
                });
            }
            Err(error) if error.kind == ErrorKind::Conflict => error,
            Err(error) => return Err(error.into()),
        };
        let existing = existing_association(ctx, desired).await?;
        match existing {
            // Ours (a rollback to this service account, or an earlier try of this very
            // Create): this resource is that association.
            Some(existing) if ctx.owner.owns(&existing.tags) => {
                info!(association = %existing.arn, "adopting the association this resource already owns");
                // Should the rest fail, the stack's Delete must still find it.
                ctx.progress.created(&existing.arn);
                return converge(ctx, desired, existing).await;
            }
            // Someone else's holds the service account, so none of this event's attempts
            // made one there: EKS allows one association per service account.
            Some(existing) => {
                ctx.progress.taken_by_another();
                return Err(conflict(desired, &existing.id));
            }
            // Listed nowhere yet still in use: a delete that EKS has not finished.
            None if conflicts.still_open() => {
                let pause = backoff.next_pause();
                warn!(?pause, message = %error.message, "the service account is still taken by a deleted association; retrying");
                tokio::time::sleep(pause).await;
            }
            None => return Err(conflict(desired, &error.message)),
        }
    }
}

/// The association a Create answered with, after making sure it still exists if an earlier
/// run of the event made it.
///
/// EKS answers a repeated token with the association the first request made, and whether it
/// still does once that association is deleted, the API does not say (AWS APIs commonly
/// keep the record). That happens when a replacement undid itself (it failed after its
/// Create), its answer never reached CloudFormation, and Lambda ran the event again: the
/// service account is free, the Create repeats the token, and EKS may return the association
/// the first run removed. Reported, it would leave CloudFormation holding a gone association,
/// and deleting the original in its clean-up. An association that an earlier run may have
/// made ([`Progress::may_be_an_earlier_runs`]) is such a repeat, or one whose answer that run
/// lost; a Describe tells them apart. In a first run, or for an association this run made,
/// nothing is described.
async fn still_there(ctx: &Context<'_>, association: Association) -> Result<Association, Failure> {
    if !ctx.progress.may_be_an_earlier_runs(association.created_at) {
        return Ok(association);
    }
    let arn = readable_arn(&association)?;
    if ctx.eks.describe(&arn).await?.is_some() {
        return Ok(association);
    }
    ctx.progress.created_but_removed_since();
    Err(Failure::new(format!(
        "EKS answered this event's CreatePodIdentityAssociation with {}, which an earlier run \
         of the same event made and which has been deleted since (that run failed and removed \
         it, and its answer never reached CloudFormation); nothing was created. Deploy again: \
         a new event carries a new token.",
        association.arn
    )))
}

/// The ARN of an association EKS returned, as the calls on it need it.
fn readable_arn(association: &Association) -> Result<AssociationArn, Failure> {
    AssociationArn::parse(&association.arn).ok_or_else(|| {
        Failure::new(format!(
            "EKS returned an association ARN this function cannot read: {}",
            association.arn
        ))
    })
}

/// The association EKS holds for the template's service account, if any.
async fn existing_association(
    ctx: &Context<'_>,
    desired: &DesiredAssociation,
) -> Result<Option<Association>, Failure> {
    for arn in ctx.eks.find(&desired.placement).await? {
        if let Some(found) = ctx.eks.describe(&arn).await? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

fn conflict(desired: &DesiredAssociation, existing: &str) -> Failure {
    let p = &desired.placement;
    Failure::new(format!(
        "An association already exists for cluster {}, namespace {}, service account {} ({existing}), \
         and this stack resource does not own it. EKS allows one association per service account: \
         delete the existing one (aws eks delete-pod-identity-association), or change Namespace or ServiceAccount.",
        p.cluster, p.namespace, p.service_account
    ))
}

/// The least time a call retried for IAM propagation must have before the cut-off: EKS
/// answers such a call at once, yes or no.
const PROPAGATION_CALL_NEEDS: Duration = Duration::from_secs(3);

/// Retries a call while EKS says the role does not exist yet, which is how it answers for a
/// role created moments before while IAM propagates it: for [`IAM_PROPAGATION_WINDOW`], or
/// while another try can end before `cut_off`. Then EKS's refusal is the answer, saying how
/// long it was retried, rather than the deadline's "Timed out", which would hide a RoleArn
/// that does not exist behind advice to raise a limit.
async fn retry_iam_propagation<T, F, Fut>(cut_off: Instant, mut call: F) -> Result<T, EksError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, EksError>>,
{
    let started = Instant::now();
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(10));
    let mut tries = 0;
    loop {
        tries += 1;
        match call().await {
            Err(mut error) if error.is_iam_propagation() => {
                let pause = backoff.next_pause();
                let in_window = started.elapsed() < IAM_PROPAGATION_WINDOW;
                if in_window && Instant::now() + pause + PROPAGATION_CALL_NEEDS <= cut_off {
                    warn!(
                        ?pause,
                        "the role is not visible to EKS yet (IAM propagation); retrying"
                    );
                    tokio::time::sleep(pause).await;
                    continue;
                }
                if tries > 1 {
                    let until = if in_window {
                        "until the event's time ran short"
                    } else {
                        "the time IAM may take to make a new role visible"
                    };
                    error.message = format!(
                        "{} (tried {tries} times over {:.1} s, {until})",
                        error.message,
                        started.elapsed().as_secs_f64()
                    );
                }
                return Err(error);
            }
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_conflict_window_opens_at_the_first_conflict() {
        let mut conflicts = ConflictWindow::default();
        // A minute of IAM propagation before any conflict does not count.
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(conflicts.still_open());
        tokio::time::advance(CONFLICT_WINDOW - Duration::from_secs(1)).await;
        assert!(conflicts.still_open());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!conflicts.still_open());
    }

    #[test]
    fn a_delete_waits_for_an_abandoned_create_as_long_as_its_time_allows() {
        let now = Instant::now();
        let at = |secs| now + Duration::from_secs(secs);
        // The template's 300 s timeout, cut off 5 s before the deadline.
        assert_eq!(last_look(now, at(295)), at(290));
        assert_eq!(last_look(now, at(60)), at(55));
        // No time to wait at all.
        assert_eq!(last_look(now, at(3)), now);
        assert_eq!(last_look(now, now), now);
    }

    #[test]
    fn only_a_marker_with_a_token_says_nothing_was_created() {
        let token = "0123abcd-4567-89ef-0123-456789abcdef";
        assert!(is_nothing_created_id(&nothing_created_id(token)));
        assert!(is_placeholder_id(&placeholder_id(token)));
        assert!(!is_placeholder_id(&nothing_created_id(token)));
        assert!(!is_placeholder_id(
            "cfn-eks-pod-identity-PodIdentity-1A2B3C4D5E6F"
        ));
        for id in [
            // What CloudFormation invents for a stack named like the marker.
            "cfn-eks-pod-identity-nothing-created-x-PodIdentity-1A2B3C4D5E6F",
            "cfn-eks-pod-identity-nothing-created-0123ABCD-4567-89EF-0123-456789ABCDEF",
            "cfn-eks-pod-identity-nothing-created-",
            // The placeholder of a Create whose outcome is unknown.
            "cfn-eks-pod-identity-0123abcd-4567-89ef-0123-456789abcdef",
        ] {
            assert!(!is_nothing_created_id(id), "{id}");
        }
    }
}
