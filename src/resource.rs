//! The resource itself: Create, Update and Delete of one pod identity association, each a
//! short function that reads the event, asks `plan` what to do and asks `eks` to do it.

use crate::arn::AssociationArn;
use crate::eks::{Eks, ErrorKind};
use crate::event::Request;
use crate::plan::{
    changes, replacement_by_arn, replacement_by_state, Association, Owner, Replacement,
};
use crate::properties::DesiredAssociation;
use std::sync::{Arc, Mutex};
use tracing::info;

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
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Failure {
        Failure {
            reason: error.to_string(),
        }
    }
}

/// The ARN of an association this event created, shared with the supervisor so that a
/// deadline or a panic after the create still reports it (and the stack's Delete removes it).
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Mutex<Option<String>>>);

impl Progress {
    /// Records a created association.
    pub fn created(&self, arn: &str) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(arn.to_owned());
    }

    /// The association this event created, if any.
    pub fn created_arn(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
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
}

/// Create: validate, then CreatePodIdentityAssociation with the event's token.
pub async fn create(ctx: &Context<'_>, request: &Request) -> Result<Success, Failure> {
    let desired = DesiredAssociation::from_properties(&request.properties, ctx.default_region)?;
    let association = create_association(ctx, &desired).await?;
    Ok(Success {
        physical_id: association.arn.clone(),
        association: Some(association),
    })
}

/// Update: replace when a replacement property changed or the association is gone; otherwise
/// change only what differs from what EKS reports.
pub async fn update(ctx: &Context<'_>, request: &Request) -> Result<Success, Failure> {
    let desired = DesiredAssociation::from_properties(&request.properties, ctx.default_region)?;
    let current = request
        .physical_resource_id
        .as_deref()
        .and_then(AssociationArn::parse);
    if let Some(why) = replacement_by_arn(&desired, current.as_ref()) {
        return replace(ctx, &desired, why).await;
    }
    let Some(arn) = current else {
        return replace(ctx, &desired, Replacement::Missing).await;
    };
    let actual = ctx.eks.describe(&arn).await?;
    if let Some(why) = replacement_by_state(&desired, actual.as_ref()) {
        return replace(ctx, &desired, why).await;
    }
    let Some(mut association) = actual else {
        return replace(ctx, &desired, Replacement::Missing).await;
    };

    let changes = changes(&desired, &association, &ctx.owner);
    info!(
        settings = ?changes.settings,
        tags_to_set = ?changes.tags_to_set.keys().collect::<Vec<_>>(),
        tags_to_remove = ?changes.tags_to_remove,
        "updating in place"
    );
    if !changes.settings.is_empty() {
        association = ctx.eks.update(&arn, &changes.settings, &ctx.token).await?;
    }
    if !changes.tags_to_set.is_empty() {
        ctx.eks.tag(&arn, &changes.tags_to_set).await?;
    }
    if !changes.tags_to_remove.is_empty() {
        ctx.eks.untag(&arn, &changes.tags_to_remove).await?;
    }
    Ok(Success {
        physical_id: association.arn.clone(),
        association: Some(association),
    })
}

/// Delete: remove the association named by the PhysicalResourceId. An id that is not an
/// association ARN (a failed Create's, or one CloudFormation invented) names nothing of ours,
/// and an association or cluster that is already gone is what Delete wants anyway.
pub async fn delete(ctx: &Context<'_>, request: &Request) -> Result<Success, Failure> {
    let physical_id = request.physical_resource_id.clone().unwrap_or_default();
    let done = Success {
        physical_id: physical_id.clone(),
        association: None,
    };
    let Some(arn) = AssociationArn::parse(&physical_id) else {
        info!("the PhysicalResourceId is not an association ARN: nothing to delete");
        return Ok(done);
    };
    if ctx.eks.delete(&arn).await? {
        info!(association = %arn, "deleted");
    } else {
        info!(association = %arn, "already gone");
    }
    Ok(done)
}

async fn replace(
    ctx: &Context<'_>,
    desired: &DesiredAssociation,
    why: Replacement,
) -> Result<Success, Failure> {
    info!(?why, "creating a new association");
    let association = create_association(ctx, desired).await?;
    Ok(Success {
        physical_id: association.arn.clone(),
        association: Some(association),
    })
}

async fn create_association(
    ctx: &Context<'_>,
    desired: &DesiredAssociation,
) -> Result<Association, Failure> {
    let mut tags = desired.tags.clone();
    tags.extend(ctx.owner.tags());
    match ctx.eks.create(desired, tags, &ctx.token).await {
        Ok(association) => {
            ctx.progress.created(&association.arn);
            info!(association = %association.arn, "created");
            Ok(association)
        }
        Err(e) if e.kind == ErrorKind::Conflict => {
            let p = &desired.placement;
            Err(Failure {
                reason: format!(
                    "An association already exists for cluster {}, namespace {}, service account {} ({}). \
                     Only one association per service account is allowed: delete the existing one, \
                     or change Namespace or ServiceAccount.",
                    p.cluster, p.namespace, p.service_account, e.message
                ),
            })
        }
        Err(e) => Err(e.into()),
    }
}
