//! The decisions, as pure functions: given what the template asks for and what EKS has, what
//! must change. Nothing here touches the network, so every rule is tested without one.

use crate::arn::AssociationArn;
use crate::progress::CLOCKS_DIFFER_BY;
use crate::properties::{DesiredAssociation, Placement, OWNER_LOGICAL_ID_TAG, OWNER_STACK_TAG};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// An association as EKS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    /// Its ARN: the PhysicalResourceId.
    pub arn: String,
    /// `a-` and 17 characters.
    pub id: String,
    /// Region, cluster, namespace and service account.
    pub placement: Placement,
    /// The IAM role pods assume first.
    pub role_arn: String,
    /// The role assumed next; `None` for none.
    pub target_role_arn: Option<String>,
    /// Whether EKS leaves session tags off.
    pub disable_session_tags: bool,
    /// The session policy, as EKS holds it.
    pub policy: Option<String>,
    /// Set by EKS when there is a target role; goes into the target role's trust policy.
    pub external_id: Option<String>,
    /// All tags, ownership tags included.
    pub tags: BTreeMap<String, String>,
    /// When EKS made it, if it said.
    pub created_at: Option<SystemTime>,
}

/// The stack resource an association belongs to, recorded on it as two tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The stack's ARN.
    pub stack_id: String,
    /// The resource's logical id in the template.
    pub logical_id: String,
}

impl Owner {
    /// The ownership tags.
    pub fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (OWNER_STACK_TAG.to_owned(), self.stack_id.clone()),
            (OWNER_LOGICAL_ID_TAG.to_owned(), self.logical_id.clone()),
        ])
    }

    /// Whether these tags say the association belongs to this owner.
    pub fn owns(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(OWNER_STACK_TAG) == Some(&self.stack_id)
            && tags.get(OWNER_LOGICAL_ID_TAG) == Some(&self.logical_id)
    }
}

/// Why an Update cannot keep the current association.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    /// Region, cluster, namespace or service account changed: a new association; CloudFormation
    /// deletes the old one afterwards.
    PlacementChanged,
    /// The PhysicalResourceId is not an association ARN, or the association is gone (deleted
    /// by hand): create it again.
    Missing,
}

/// The fields of UpdatePodIdentityAssociation to send; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsChange {
    /// A new role.
    pub role_arn: Option<String>,
    /// A new target role; `Some("")` clears it (leaving the field out would keep it).
    pub target_role_arn: Option<String>,
    /// A new DisableSessionTags.
    pub disable_session_tags: Option<bool>,
    /// A new policy; `Some("")` clears it.
    pub policy: Option<String>,
}

impl SettingsChange {
    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        *self == SettingsChange::default()
    }
}

/// Everything an in-place Update must do; each part may be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// For UpdatePodIdentityAssociation.
    pub settings: SettingsChange,
    /// For TagResource: tags to add or change.
    pub tags_to_set: BTreeMap<String, String>,
    /// For UntagResource: tags the template no longer has.
    pub tags_to_remove: Vec<String>,
}

/// The association an Update may keep, judged from its PhysicalResourceId alone (region and
/// cluster are in the ARN), or why it must create a new one.
pub fn keep_by_arn(
    desired: &DesiredAssociation,
    current: Option<AssociationArn>,
) -> Result<AssociationArn, Replacement> {
    match current {
        None => Err(Replacement::Missing),
        Some(arn)
            if arn.region != desired.placement.region
                || arn.cluster != desired.placement.cluster =>
        {
            Err(Replacement::PlacementChanged)
        }
        Some(arn) => Ok(arn),
    }
}

/// The association an Update may keep, judged from what EKS reports (`None`: it is gone),
/// or why it must create a new one.
pub fn keep_by_state(
    desired: &DesiredAssociation,
    actual: Option<Association>,
) -> Result<Association, Replacement> {
    match actual {
        None => Err(Replacement::Missing),
        Some(actual) if actual.placement != desired.placement => Err(Replacement::PlacementChanged),
        Some(actual) => Ok(actual),
    }
}

/// Whether `found`, at the service account of a replacement that never reported its
/// association (see `resource::update`), is what that replacement made, for the rollback to
/// remove: owned by this stack resource, not `known` (the association CloudFormation knows),
/// and made after it. That replacement began after CloudFormation had heard of `known`, so
/// what it created is younger; an owned association that was there before, kept by an
/// `UpdateReplacePolicy: Retain` and returned to by the replacement, is older, and stays.
/// Without both times, nothing is taken for it.
pub fn made_by_unreported_replacement(
    found: &Association,
    known: &Association,
    owner: &Owner,
) -> bool {
    owner.owns(&found.tags)
        && found.arn != known.arn
        && matches!((found.created_at, known.created_at), (Some(f), Some(k)) if f > k)
}

/// Why a look for what an abandoned Create or replacement made leaves `found`, which this
/// resource owns, in a run that may not be the event's first: it was made after `by`, or it
/// is not known when. An earlier run may have answered before it was made, and CloudFormation
/// then deployed the resource again, making it: Lambda runs an event again when its
/// invocation failed, which a stored answer whose reply was lost does not prevent, and its
/// queue may hand an event over twice. `None` (take it) when `by` is: a surely first run.
pub fn made_too_late(found: &Association, by: Option<SystemTime>) -> Option<&'static str> {
    // EKS's clock and CloudFormation's may differ; X-Amz-Date is cut to the second.
    let by = by?.checked_add(CLOCKS_DIFFER_BY)?;
    match found.created_at {
        Some(made) if made <= by => None,
        _ => Some("not deleting an association made after an earlier run of this event may have answered: a later deployment's"),
    }
}

/// The least an in-place Update must do to make `actual` match `desired`. Ownership tags are
/// never removed, and are added when missing; tags starting with `aws:` belong to AWS.
pub fn changes(desired: &DesiredAssociation, actual: &Association, owner: &Owner) -> Changes {
    let mut settings = SettingsChange::default();
    if desired.role_arn != actual.role_arn {
        settings.role_arn = Some(desired.role_arn.clone());
    }
    let actual_target = actual.target_role_arn.as_deref().filter(|t| !t.is_empty());
    if desired.target_role_arn.as_deref() != actual_target {
        settings.target_role_arn = Some(desired.target_role_arn.clone().unwrap_or_default());
    }
    if desired.disable_session_tags != actual.disable_session_tags {
        settings.disable_session_tags = Some(desired.disable_session_tags);
    }
    if !same_policy(desired.policy.as_deref(), actual.policy.as_deref()) {
        settings.policy = Some(desired.policy.clone().unwrap_or_default());
        // A policy change carries the session-tags setting too, as Terraform's updates always
        // do. EKS takes a policy only with session tags disabled, and does not say whether it
        // checks the request or the association it would make. And its API asks every update
        // to change the role, the target role or disableSessionTags, policy not named: a
        // removed policy alone would be a request without any of them. (Whether EKS takes one
        // sent unchanged as changed, as Terraform's updates assume, is not verified.)
        settings.disable_session_tags = Some(desired.disable_session_tags);
    }

    let mut wanted = desired.tags.clone();
    wanted.extend(owner.tags());
    let tags_to_set = wanted
        .iter()
        .filter(|(key, value)| actual.tags.get(*key) != Some(*value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let tags_to_remove = actual
        .tags
        .keys()
        // The ownership tags are among the wanted, so they are never removed.
        .filter(|key| !wanted.contains_key(*key) && !key.to_ascii_lowercase().starts_with("aws:"))
        .cloned()
        .collect();
    Changes {
        settings,
        tags_to_set,
        tags_to_remove,
    }
}

/// Policies are equal when they are the same JSON, whatever the spacing or key order EKS
/// gives them back in; an empty policy is no policy.
fn same_policy(desired: Option<&str>, actual: Option<&str>) -> bool {
    let parse = |p: Option<&str>| {
        p.filter(|p| !p.is_empty())
            .map(|p| serde_json::from_str::<serde_json::Value>(p).map_err(|_| p.to_owned()))
    };
    parse(desired) == parse(actual)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement() -> Placement {
        Placement {
            region: "us-east-1".into(),
            cluster: "prod".into(),
            namespace: "payments".into(),
            service_account: "api".into(),
        }
    }

    fn owner() -> Owner {
        Owner {
            stack_id: "arn:aws:cloudformation:us-east-1:111122223333:stack/s/1".into(),
            logical_id: "Assoc".into(),
        }
    }

    fn desired() -> DesiredAssociation {
        DesiredAssociation {
            placement: placement(),
            role_arn: "arn:aws:iam::111122223333:role/a".into(),
            target_role_arn: None,
            disable_session_tags: false,
            policy: None,
            policy_repeats_a_key: None,
            tags_look_like_one_item: false,
            tags: BTreeMap::from([("team".into(), "payments".into())]),
        }
    }

    fn actual() -> Association {
        let mut tags = owner().tags();
        tags.insert("team".into(), "payments".into());
        Association {
            arn:
                "arn:aws:eks:us-east-1:111122223333:podidentityassociation/prod/a-0123456789abcdefg"
                    .into(),
            id: "a-0123456789abcdefg".into(),
            placement: placement(),
            role_arn: "arn:aws:iam::111122223333:role/a".into(),
            target_role_arn: None,
            disable_session_tags: false,
            policy: None,
            external_id: None,
            tags,
            created_at: Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000)),
        }
    }

    #[test]
    fn a_run_again_takes_only_what_was_made_by_its_bound_and_the_clocks_margin() {
        let at = |secs| Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs));
        let made = |secs| Association {
            created_at: at(secs),
            ..actual()
        };
        // A surely first run takes anything.
        assert_eq!(made_too_late(&made(9_999), None), None);
        assert_eq!(made_too_late(&made(1_000), at(1_000)), None);
        assert_eq!(made_too_late(&made(1_005), at(1_000)), None, "within 5 s");
        assert!(made_too_late(&made(1_006), at(1_000)).is_some());
        let unknown = Association {
            created_at: None,
            ..actual()
        };
        assert!(made_too_late(&unknown, at(1_000)).is_some(), "no age");
    }

    #[test]
    fn a_rollback_removes_only_younger_owned_associations_that_cloudformation_does_not_know() {
        let known = actual();
        let later = |arn: &str, secs| Association {
            arn: arn.into(),
            created_at: Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs)),
            ..actual()
        };
        let made = later("arn:made", 1_001);
        assert!(made_by_unreported_replacement(&made, &known, &owner()));
        // Kept by a Retain policy, and there before the association CloudFormation knows.
        let retained = later("arn:retained", 999);
        assert!(!made_by_unreported_replacement(&retained, &known, &owner()));
        assert!(!made_by_unreported_replacement(&known, &known, &owner()));
        // Made in the same second: not surely after, so kept.
        let same_second = later("arn:same-second", 1_000);
        assert!(!made_by_unreported_replacement(
            &same_second,
            &known,
            &owner()
        ));
        // The association CloudFormation knows is never taken, whatever its time says.
        let known_again = later(&known.arn, 1_001);
        assert!(!made_by_unreported_replacement(
            &known_again,
            &known,
            &owner()
        ));
        let foreign = Association {
            tags: BTreeMap::new(),
            ..made.clone()
        };
        assert!(!made_by_unreported_replacement(&foreign, &known, &owner()));
        let untimed = Association {
            created_at: None,
            ..made.clone()
        };
        assert!(!made_by_unreported_replacement(&untimed, &known, &owner()));
    }

    #[test]
    fn nothing_to_do_when_nothing_differs() {
        assert_eq!(changes(&desired(), &actual(), &owner()), Changes::default());
    }

    #[test]
    fn a_new_role_is_the_only_setting_sent() {
        let mut d = desired();
        d.role_arn = "arn:aws:iam::111122223333:role/b".into();
        let c = changes(&d, &actual(), &owner());
        assert_eq!(
            c.settings,
            SettingsChange {
                role_arn: Some(d.role_arn.clone()),
                ..SettingsChange::default()
            }
        );
        assert!(!c.settings.is_empty());
        assert!(c.tags_to_set.is_empty() && c.tags_to_remove.is_empty());
    }

    #[test]
    fn removing_the_target_role_sends_an_empty_string() {
        let mut a = actual();
        a.target_role_arn = Some("arn:aws:iam::444455556666:role/t".into());
        a.external_id = Some("e".into());
        let c = changes(&desired(), &a, &owner());
        assert_eq!(c.settings.target_role_arn.as_deref(), Some(""));
        assert_eq!(c.settings.role_arn, None);
    }

    /// A desired association with a policy, and an actual one with session tags disabled and
    /// no policy yet.
    fn with_policy() -> (DesiredAssociation, Association) {
        let mut d = desired();
        d.disable_session_tags = true;
        d.policy = Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into());
        let mut a = actual();
        a.disable_session_tags = true;
        (d, a)
    }

    #[test]
    fn policy_compares_as_json() {
        let (mut d, mut a) = with_policy();
        a.policy = Some("{ \"Statement\": [], \"Version\": \"2012-10-17\" }".into());
        assert_eq!(changes(&d, &a, &owner()), Changes::default());
        d.policy = None;
        assert_eq!(
            changes(&d, &a, &owner()).settings,
            SettingsChange {
                disable_session_tags: Some(true),
                policy: Some(String::new()),
                ..SettingsChange::default()
            },
            "a removed policy alone still names one of the settings EKS asks an update for"
        );
    }

    #[test]
    fn a_new_policy_says_session_tags_are_disabled() {
        let (d, a) = with_policy();
        assert_eq!(
            changes(&d, &a, &owner()).settings,
            SettingsChange {
                disable_session_tags: Some(true),
                policy: d.policy.clone(),
                ..SettingsChange::default()
            }
        );
    }

    #[test]
    fn tag_diff_keeps_ownership_and_aws_tags() {
        let mut d = desired();
        d.tags = BTreeMap::from([("env".into(), "prod".into())]);
        let mut a = actual();
        a.tags
            .insert("aws:cloudformation:stack-name".into(), "s".into());
        let c = changes(&d, &a, &owner());
        assert!(c.settings.is_empty());
        assert_eq!(
            c.tags_to_set,
            BTreeMap::from([("env".into(), "prod".into())])
        );
        assert_eq!(c.tags_to_remove, vec!["team".to_owned()]);
    }

    #[test]
    fn missing_ownership_tags_are_added() {
        let mut a = actual();
        a.tags.remove(OWNER_STACK_TAG);
        let c = changes(&desired(), &a, &owner());
        assert_eq!(c.tags_to_set.get(OWNER_STACK_TAG), Some(&owner().stack_id));
    }

    #[test]
    fn replacement_rules() {
        let d = desired();
        let arn = AssociationArn::parse(&actual().arn).unwrap();
        assert_eq!(keep_by_arn(&d, Some(arn.clone())), Ok(arn.clone()));
        assert_eq!(keep_by_arn(&d, None), Err(Replacement::Missing));
        let mut moved = d.clone();
        moved.placement.region = "eu-west-1".into();
        assert_eq!(
            keep_by_arn(&moved, Some(arn.clone())),
            Err(Replacement::PlacementChanged)
        );
        // A namespace is not in the ARN: only EKS's answer tells.
        let mut renamed = d.clone();
        renamed.placement.namespace = "billing".into();
        assert_eq!(keep_by_arn(&renamed, Some(arn.clone())), Ok(arn));
        assert_eq!(
            keep_by_state(&renamed, Some(actual())),
            Err(Replacement::PlacementChanged)
        );
        assert_eq!(keep_by_state(&d, Some(actual())), Ok(actual()));
        assert_eq!(keep_by_state(&d, None), Err(Replacement::Missing));
    }

    #[test]
    fn ownership() {
        assert!(owner().owns(&actual().tags));
        let other = Owner {
            logical_id: "Other".into(),
            ..owner()
        };
        assert!(!other.owns(&actual().tags));
        // Another stack's resource of the same logical id: stacks often share templates.
        let other_stack = Owner {
            stack_id: "arn:aws:cloudformation:us-east-1:111122223333:stack/other/2".into(),
            ..owner()
        };
        assert!(!other_stack.owns(&actual().tags));
        assert!(!owner().owns(&BTreeMap::new()), "untagged");
    }
}
