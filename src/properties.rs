//! The resource's schema: which properties exist, what each must look like, and which force a
//! replacement. Reading the template's properties either gives a [`DesiredAssociation`] or a
//! list of [`PropertyError`]s that each name the property and the rule, before EKS is called.
//! Some rules wait: the policy's until it is about to be sent; the tags' and the target
//! role's partition for a Create, so that associations made before them stay manageable; and
//! those that need to know where the function runs until an event is acted on, the Region's
//! partition before any call, the roles' once they are about to be sent (see the `check_*`
//! methods of [`DesiredAssociation`]). A Create sends every property, so it is checked
//! against all of them at once ([`DesiredAssociation::of_new_resource`]).

use crate::arn::{is_cluster_name, is_region, role_arn_problem, Home};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// The tag keys this function adds to every association it creates, so that a Delete can tell
/// an association the stack owns from one it does not.
pub const OWNER_STACK_TAG: &str = "cfn-eks-pod-identity/stack-id";
/// See [`OWNER_STACK_TAG`].
pub const OWNER_LOGICAL_ID_TAG: &str = "cfn-eks-pod-identity/logical-id";

/// EKS allows 50 tags; two are ours.
pub const MAX_USER_TAGS: usize = 50 - 2;
/// The largest session policy EKS accepts, in characters.
pub const MAX_POLICY_LEN: usize = 2048;

/// Every property the resource takes, and whether changing it forces a replacement
/// (a new association, and a Delete of the old one by CloudFormation afterwards).
pub const SCHEMA: &[(&str, Update)] = &[
    ("ClusterName", Update::Replacement),
    ("Namespace", Update::Replacement),
    ("ServiceAccount", Update::Replacement),
    ("Region", Update::Replacement),
    ("RoleArn", Update::InPlace),
    ("TargetRoleArn", Update::InPlace),
    ("DisableSessionTags", Update::InPlace),
    ("Policy", Update::InPlace),
    ("Tags", Update::InPlace),
];

/// Properties CloudFormation and CDK add on their own; accepted and ignored.
const IGNORED: &[&str] = &["ServiceToken", "ServiceTimeout"];

/// How a change to a property is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// UpdatePodIdentityAssociation or TagResource/UntagResource on the same association.
    InPlace,
    /// A new association.
    Replacement,
}

/// Where an association lives; a change to any of these is a different association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The region.
    pub region: String,
    /// The cluster's name.
    pub cluster: String,
    /// The Kubernetes namespace.
    pub namespace: String,
    /// The Kubernetes service account.
    pub service_account: String,
}

/// What the template asks for, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredAssociation {
    /// Region, cluster, namespace and service account.
    pub placement: Placement,
    /// The IAM role pods assume first.
    pub role_arn: String,
    /// The role assumed next, possibly in another account; `None` for none.
    pub target_role_arn: Option<String>,
    /// Whether EKS leaves session tags off.
    pub disable_session_tags: bool,
    /// A session policy, compact JSON; only with `disable_session_tags`.
    pub policy: Option<String>,
    /// What keeps `policy` from being sent: the template's repeats a key in one object, and
    /// serde_json kept only the last. Refused where it would be sent, not when read: see
    /// [`DesiredAssociation::check_policy_to_send`].
    pub policy_repeats_a_key: Option<String>,
    /// The user's tags (without the ownership tags).
    pub tags: BTreeMap<String, String>,
    /// Whether Tags is a map of just `Key` and `Value`: one list item written in YAML without
    /// its dash, which reads as two tags so named. Refused in a Create only, not when read:
    /// see [`DesiredAssociation::check_tags_of_new_resource`].
    pub tags_look_like_one_item: bool,
}

/// One property that is wrong, and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyError {
    /// The property's name as the template spells it.
    pub property: String,
    /// What is wrong, for a person.
    pub rule: String,
}

impl fmt::Display for PropertyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.property, self.rule)
    }
}

/// All the property errors of one event, shown together so a user fixes them in one go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyErrors(pub Vec<PropertyError>);

impl PropertyErrors {
    /// The errors of every one of `checks`, together, so that fixing one does not only
    /// reveal the next; `Ok` when none failed.
    pub fn together(
        checks: impl IntoIterator<Item = Result<(), PropertyErrors>>,
    ) -> Result<(), PropertyErrors> {
        let errors: Vec<PropertyError> = checks
            .into_iter()
            .filter_map(Result::err)
            .flat_map(|errors| errors.0)
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PropertyErrors(errors))
        }
    }
}

impl fmt::Display for PropertyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Invalid properties: ")?;
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PropertyErrors {}

impl DesiredAssociation {
    /// Reads and validates the template's properties. `default_region` is the function's own
    /// region, used when the template names none.
    pub fn from_properties(
        properties: &Map<String, Value>,
        default_region: &str,
    ) -> Result<DesiredAssociation, PropertyErrors> {
        let mut errors = Vec::new();
        let mut fail = |property: &str, rule: String| {
            errors.push(PropertyError {
                property: property.to_owned(),
                rule,
            })
        };

        for name in properties.keys() {
            let known = SCHEMA.iter().any(|(p, _)| p == name) || IGNORED.contains(&name.as_str());
            if !known {
                let expected: Vec<&str> = SCHEMA.iter().map(|(p, _)| *p).collect();
                fail(
                    &shown(name),
                    format!(
                        "unknown property (property names are case-sensitive; expected one of {})",
                        expected.join(", ")
                    ),
                );
            }
        }

        let mut text = |name: &str, required: bool| -> Option<String> {
            match properties.get(name) {
                None | Some(Value::Null) if required => {
                    fail(name, "is required".to_owned());
                    None
                }
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.is_empty() && required => {
                    fail(name, "is required and must not be empty".to_owned());
                    None
                }
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => {
                    fail(name, format!("must be a string, got {}", kind(other)));
                    None
                }
            }
        };
        let cluster = text("ClusterName", true);
        let namespace = text("Namespace", true);
        let service_account = text("ServiceAccount", true);
        let region = text("Region", false).filter(|r| !r.is_empty());
        let role_arn = text("RoleArn", true);
        let target_role_arn = text("TargetRoleArn", false).filter(|t| !t.is_empty());

        if let Some(c) = &cluster {
            if !is_cluster_name(c) {
                fail("ClusterName", format!("must be 1 to 100 letters, digits, '-' or '_', starting with a letter or digit; got {}", quoted(c)));
            }
        }
        if let Some(n) = &namespace {
            if !is_dns1123_label(n) {
                fail("Namespace", format!("must be a Kubernetes namespace name (DNS-1123 label: at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit); got {}", quoted(n)));
            }
        }
        if let Some(s) = &service_account {
            if !is_dns1123_subdomain(s) {
                fail("ServiceAccount", format!("must be a Kubernetes service account name (DNS-1123 subdomain: at most 253 lowercase letters, digits, '-' or '.', each part starting and ending with a letter or digit); got {}", quoted(s)));
            }
        }
        if let Some(r) = &region {
            if !is_region(r) {
                fail(
                    "Region",
                    format!(
                        "must be an AWS region name such as us-east-1; got {}",
                        quoted(r)
                    ),
                );
            }
        }
        if let Some(r) = &role_arn {
            if let Some(problem) = role_arn_problem(r) {
                fail(
                    "RoleArn",
                    format!(
                        "must be an IAM role ARN (arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME), and {problem}; got {}",
                        quoted(r)
                    ),
                );
            }
        }
        if let Some(t) = &target_role_arn {
            if let Some(problem) = role_arn_problem(t) {
                fail("TargetRoleArn", format!("must be an IAM role ARN (arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME) or empty, and {problem}; got {}", quoted(t)));
            }
        }

        // `None` when it is neither true nor false: the Policy rule below then stays silent.
        let disable_session_tags = match properties.get("DisableSessionTags") {
            None | Some(Value::Null) => Some(false),
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") || s.is_empty() => {
                Some(false)
            }
            Some(other) => {
                fail(
                    "DisableSessionTags",
                    format!("must be \"true\" or \"false\"; got {}", shown_value(other)),
                );
                None
            }
        };

        let mut policy_repeats_a_key = None;
        let policy = match properties.get("Policy") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(doc)) => {
                    policy_repeats_a_key = repeated_key(s);
                    Some(Value::Object(doc).to_string())
                }
                Ok(other) => {
                    fail(
                        "Policy",
                        format!(
                            "must be a JSON object (an IAM policy document); got {}",
                            kind(&other)
                        ),
                    );
                    None
                }
                Err(e) => {
                    fail("Policy", format!("must be a JSON object (an IAM policy document); it is not valid JSON: {e}"));
                    None
                }
            },
            Some(doc @ Value::Object(_)) => Some(doc.to_string()),
            Some(other) => {
                fail(
                    "Policy",
                    format!(
                        "must be a JSON policy document, as a string or an object; got {}",
                        kind(other)
                    ),
                );
                None
            }
        };
        if let Some(p) = &policy {
            if p.chars().count() > MAX_POLICY_LEN {
                fail(
                    "Policy",
                    format!(
                        "must be at most {MAX_POLICY_LEN} characters as compact JSON; got {}",
                        p.chars().count()
                    ),
                );
            }
            if disable_session_tags == Some(false) {
                fail(
                    "Policy",
                    "is only allowed when DisableSessionTags is \"true\"".to_owned(),
                );
            }
        }

        let tags_look_like_one_item = tags_look_like_one_item(properties);
        let tags = match properties.get("Tags") {
            // `""` is unset here too, as for every other optional property: what a template's
            // `!If` gives when it names no tags with an empty string rather than AWS::NoValue.
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::String(s)) if s.is_empty() => BTreeMap::new(),
            Some(value) => match read_tags(value) {
                Ok(tags) => tags,
                Err(rules) => {
                    for rule in rules {
                        fail("Tags", rule);
                    }
                    BTreeMap::new()
                }
            },
        };

        if !errors.is_empty() {
            return Err(PropertyErrors(errors));
        }
        match (cluster, namespace, service_account, role_arn) {
            (Some(cluster), Some(namespace), Some(service_account), Some(role_arn)) => {
                Ok(DesiredAssociation {
                    placement: Placement {
                        region: region.unwrap_or_else(|| default_region.to_owned()),
                        cluster,
                        namespace,
                        service_account,
                    },
                    role_arn,
                    target_role_arn,
                    disable_session_tags: disable_session_tags.unwrap_or_default(),
                    policy,
                    policy_repeats_a_key,
                    tags,
                    tags_look_like_one_item,
                })
            }
            // Unreachable: a missing required property recorded an error above.
            _ => Err(PropertyErrors(Vec::new())),
        }
    }

    /// Reads a new resource's properties (a Create's): [`DesiredAssociation::from_properties`]'s
    /// rules, and the checks of what a Create sends, which is every property (the `check_*`
    /// methods; the Region's and the roles' only when `home`, where the function runs, is
    /// known), all in one error.
    pub fn of_new_resource(
        properties: &Map<String, Value>,
        default_region: &str,
        home: Option<&Home>,
    ) -> Result<DesiredAssociation, PropertyErrors> {
        let desired = DesiredAssociation::from_properties(properties, default_region)
            .map_err(|errors| with_send_time_errors(properties, default_region, home, errors))?;
        let (region, role, target_role) = match home {
            Some(home) => (
                desired.check_region_at_home(home, default_region),
                desired.check_role_to_send(home),
                desired.check_target_role_of_new_resource(home),
            ),
            None => (Ok(()), Ok(()), Ok(())),
        };
        PropertyErrors::together([
            region,
            desired.check_policy_to_send(),
            role,
            target_role,
            desired.check_tags_of_new_resource(),
        ])?;
        Ok(desired)
    }

    /// Refuses, naming Policy, a policy that repeats a key, before it is sent to EKS: serde_json
    /// keeps only the last, so a second "StringEquals" in one Condition would vanish, and with
    /// it a restriction the template asked for. Not when the properties are read: a version
    /// before this rule sent such a policy as read, and an association made with it must still
    /// take the updates that leave its policy alone, and be deleted, none of which sends it
    /// again. (Rolling back a change of that policy would send it, and is refused: nothing
    /// tells a rollback from an update, and the policy it restores was never as written.)
    pub fn check_policy_to_send(&self) -> Result<(), PropertyErrors> {
        refused("Policy", self.policy_repeats_a_key.clone())
    }

    /// Refuses, naming Tags, a map of just `Key` and `Value` in a new resource: what one tag
    /// written in YAML as `Tags:` with `Key:` and `Value:` under it, the list's `-` forgotten,
    /// gives, and which would make two tags named Key and Value. Only in a Create: a stack an
    /// earlier version tagged so must still take its updates, and roll them back, whose
    /// properties bring the map back; two tags misnamed lose nothing, where a stack stuck in
    /// UPDATE_ROLLBACK_FAILED costs its owner a manual step.
    pub fn check_tags_of_new_resource(&self) -> Result<(), PropertyErrors> {
        refused(
            "Tags",
            self.tags_look_like_one_item.then(one_item_tags_rule),
        )
    }

    /// Refuses a Region in another partition than `home`'s, where the function's credentials
    /// are not valid: EKS there would refuse every call, with an error about the security
    /// token that names no property. Checked for a Create and an Update, neither of which
    /// could change anything there (not for a Delete, which must not fail for want of calls
    /// that could never have been made); `default_region`, the function's own, is never
    /// refused, as the template does not name it.
    pub fn check_region_at_home(
        &self,
        home: &Home,
        default_region: &str,
    ) -> Result<(), PropertyErrors> {
        let region = &self.placement.region;
        if region == default_region {
            return Ok(());
        }
        other_partition_region(region, home)
            .map_or(Ok(()), |error| Err(PropertyErrors(vec![error])))
    }

    /// Refuses a RoleArn EKS would refuse without naming it: one in another account than
    /// `home`'s, the cluster's (this function manages the clusters of its own account): EKS
    /// passes no role across accounts ("Cross-account pass role is not allowed"); or in
    /// another partition, as in a template copied from one, which EKS cannot find and so
    /// answers as a role that does not exist yet, retried as IAM propagation. Checked where
    /// the role would be sent, as the policy is.
    pub fn check_role_to_send(&self, home: &Home) -> Result<(), PropertyErrors> {
        let errors = role_errors(&self.role_arn, home);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PropertyErrors(errors))
        }
    }

    /// Refuses, in a new resource, a TargetRoleArn in another partition than `home`'s, as a
    /// template copied from another partition would have (another account is what it is
    /// for). Only in a Create, unlike RoleArn's: EKS cannot look up a role of another
    /// account, so whether it ever accepted one of another partition is not known here, and
    /// an association an earlier version made so must still take its updates and rollbacks,
    /// which may send it again.
    pub fn check_target_role_of_new_resource(&self, home: &Home) -> Result<(), PropertyErrors> {
        match self.target_role_arn.as_deref() {
            Some(target) => other_partition("TargetRoleArn", target, home)
                .map_or(Ok(()), |error| Err(PropertyErrors(vec![error]))),
            None => Ok(()),
        }
    }
}

/// `errors`, the rules a new resource's properties broke when read, and with them those of the
/// checks before sending ([`DesiredAssociation::of_new_resource`]'s) that the properties
/// break: so that one deployment shows every error, not the read rules' first and these only
/// once those are fixed. A Region, role or Tags already named is not checked again: until it is
/// fixed, it is not what would be sent. A Policy is, whenever it is a JSON object: a rule
/// it broke when read (its length, or DisableSessionTags) leaves its text as it is.
fn with_send_time_errors(
    properties: &Map<String, Value>,
    default_region: &str,
    home: Option<&Home>,
    mut errors: PropertyErrors,
) -> PropertyErrors {
    let unnamed = |property: &str| errors.0.iter().all(|error| error.property != property);
    let text = |property: &str| {
        properties
            .get(property)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
    };
    let mut more = Vec::new();
    if let Some(home) = home {
        let region = text("Region").filter(|region| *region != default_region);
        if let Some(region) = region.filter(|_| unnamed("Region")) {
            more.extend(other_partition_region(region, home));
        }
    }
    let policy = text("Policy")
        .filter(|policy| matches!(serde_json::from_str(policy), Ok(Value::Object(_))));
    more.extend(policy.and_then(repeated_key).map(|rule| PropertyError {
        property: "Policy".to_owned(),
        rule,
    }));
    if let Some(home) = home {
        if let Some(role) = text("RoleArn").filter(|_| unnamed("RoleArn")) {
            more.extend(role_errors(role, home));
        }
        if let Some(target) = text("TargetRoleArn").filter(|_| unnamed("TargetRoleArn")) {
            more.extend(other_partition("TargetRoleArn", target, home));
        }
    }
    if unnamed("Tags") && tags_look_like_one_item(properties) {
        more.push(PropertyError {
            property: "Tags".to_owned(),
            rule: one_item_tags_rule(),
        });
    }
    errors.0.extend(more);
    errors
}

/// What is wrong with `role` as a RoleArn of a function running at `home`: another account,
/// or another partition (see [`DesiredAssociation::check_role_to_send`]).
fn role_errors(role: &str, home: &Home) -> Vec<PropertyError> {
    let partition = other_partition("RoleArn", role, home);
    let account = crate::arn::account_of(role)
        .filter(|a| *a != home.account)
        .map(|other| PropertyError {
            property: "RoleArn".to_owned(),
            rule: format!(
                "must be a role in the cluster's account, {}, not {other}: EKS passes no role to \
                 another account. For a role in another account, set it as TargetRoleArn, with \
                 RoleArn a role here that it trusts",
                home.account
            ),
        });
    partition.into_iter().chain(account).collect()
}

/// The rule a policy given as a string, one that reads as a JSON object, breaks when it
/// repeats a key within one object, if it does (see [`DesiredAssociation::check_policy_to_send`]).
fn repeated_key(policy: &str) -> Option<String> {
    let repeats = serde_json::from_str::<NoRepeatedKeys>(policy).err()?;
    Some(format!(
        "must not repeat a key within one object (only the last would reach EKS): {repeats}"
    ))
}

/// Whether Tags is a map of just `Key` and `Value` (see
/// [`DesiredAssociation::check_tags_of_new_resource`]).
fn tags_look_like_one_item(properties: &Map<String, Value>) -> bool {
    matches!(
        properties.get("Tags"),
        Some(Value::Object(map))
            if map.len() == 2 && map.contains_key("Key") && map.contains_key("Value")
    )
}

/// What Tags that look like one list item are told.
fn one_item_tags_rule() -> String {
    "is a map with only the keys Key and Value, as one list item written without its dash \
     would be; write the tag as a list item (`- Key: ...`), or, for tags named Key and Value, \
     use the list form"
        .to_owned()
}

/// The error naming Region, when `region` is in another partition than `home`'s.
fn other_partition_region(region: &str, home: &Home) -> Option<PropertyError> {
    let partition = crate::arn::partition_of_region(region).filter(|p| *p != home.partition)?;
    Some(PropertyError {
        property: "Region".to_owned(),
        rule: format!(
            "must be a region of this function's partition, {}, not {region} of {partition}: \
             the function's credentials are valid in its own partition only, so EKS there \
             would refuse every call (for clusters there, deploy the function in {partition})",
            home.partition
        ),
    })
}

/// The error naming `property`, when its `role` is in another partition than `home`'s.
fn other_partition(property: &str, role: &str, home: &Home) -> Option<PropertyError> {
    let partition = crate::arn::partition_of(role).filter(|p| *p != home.partition)?;
    Some(PropertyError {
        property: property.to_owned(),
        rule: format!(
            "must be a role in this function's partition, {}, not {partition}: roles are not \
             shared across partitions (was the template written for another one?)",
            home.partition
        ),
    })
}

/// The error naming `property`, when it breaks `rule`.
fn refused(property: &str, rule: Option<String>) -> Result<(), PropertyErrors> {
    match rule {
        None => Ok(()),
        Some(rule) => Err(PropertyErrors(vec![PropertyError {
            property: property.to_owned(),
            rule,
        }])),
    }
}

/// Reads Tags as a list of `{Key, Value}` (CloudFormation's usual shape) or a map, or says
/// every rule its tags break.
fn read_tags(value: &Value) -> Result<BTreeMap<String, String>, Vec<String>> {
    // Too many is said with whatever else is wrong, so that one deployment finds it all.
    let mut problems = Vec::new();
    let pairs: Vec<(String, &Value)> = match value {
        Value::Array(items) => {
            if items.len() > MAX_USER_TAGS {
                problems.push(too_many(items.len()));
            }
            let mut pairs = Vec::with_capacity(items.len());
            let mut malformed = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let key = item.get("Key").and_then(Value::as_str);
                let value = item.get("Value");
                match (key, value, item.as_object().map(Map::len)) {
                    (Some(key), Some(value), Some(2)) => pairs.push((key.to_owned(), value)),
                    _ => malformed.push(format!(
                        "item {i} must be an object with exactly a string Key and a Value"
                    )),
                }
            }
            if !malformed.is_empty() {
                problems.extend(malformed);
                return Err(problems);
            }
            pairs
        }
        Value::Object(map) => {
            if map.len() > MAX_USER_TAGS {
                problems.push(too_many(map.len()));
            }
            map.iter().map(|(k, v)| (k.clone(), v)).collect()
        }
        other => {
            return Err(vec![format!(
                "must be a list of {{Key, Value}} or a map of key to value; got {}",
                kind(other)
            )])
        }
    };
    let mut tags = BTreeMap::new();
    for (key, value) in pairs {
        match read_tag(&key, value) {
            Err(problem) => problems.push(problem),
            Ok(_) if tags.contains_key(&key) => {
                problems.push(format!("tag key {} appears more than once", quoted(&key)))
            }
            Ok(value) => {
                tags.insert(key, value);
            }
        }
    }
    if problems.is_empty() {
        Ok(tags)
    } else {
        Err(problems)
    }
}

/// One tag's value as text, or the rule the tag breaks. CloudFormation passes strings; a map
/// in JSON may hold numbers or booleans, which are taken as their text.
fn read_tag(key: &str, value: &Value) -> Result<String, String> {
    let value = match value {
        Value::String(s) => s.clone(),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        other => {
            return Err(format!(
                "the value of tag {} must be a string; got {}",
                quoted(key),
                kind(other)
            ))
        }
    };
    let key_len = key.chars().count();
    let value_len = value.chars().count();
    if !(1..=128).contains(&key_len) {
        Err(format!(
            "tag keys must be 1 to 128 characters; {} has {key_len}",
            quoted(key)
        ))
    } else if key.to_ascii_lowercase().starts_with("aws:") {
        Err(format!(
            "tag keys starting with \"aws:\" are reserved by AWS; got {}",
            quoted(key)
        ))
    } else if key == OWNER_STACK_TAG || key == OWNER_LOGICAL_ID_TAG {
        Err(format!(
            "tag key {} is set by this resource to record its owner",
            quoted(key)
        ))
    } else if value_len > 256 {
        Err(format!(
            "tag values must be at most 256 characters; the value of {} has {value_len}",
            quoted(key)
        ))
    } else {
        Ok(value)
    }
}

fn too_many(n: usize) -> String {
    format!("at most {MAX_USER_TAGS} tags (EKS allows 50; this resource uses 2 to record its owner); got {n}")
}

/// A DNS-1123 label: at most 63 of `[a-z0-9-]`, starting and ending with a letter or digit.
pub fn is_dns1123_label(text: &str) -> bool {
    (1..=63).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// A DNS-1123 subdomain: at most 253 characters of dot-separated labels of `[a-z0-9-]`.
pub fn is_dns1123_subdomain(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Any JSON value in which no object repeats a key: reading one fails at the second
/// occurrence, naming the key (escapes decoded, so `"a"` and `"\u0061"` are the same key).
struct NoRepeatedKeys;

impl<'de> serde::Deserialize<'de> for NoRepeatedKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NoRepeatedKeysVisitor)
    }
}

struct NoRepeatedKeysVisitor;

impl<'de> serde::de::Visitor<'de> for NoRepeatedKeysVisitor {
    type Value = NoRepeatedKeys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<NoRepeatedKeys, E> {
        Ok(NoRepeatedKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoRepeatedKeys, E> {
        Ok(NoRepeatedKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoRepeatedKeys, E> {
        Ok(NoRepeatedKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoRepeatedKeys, E> {
        Ok(NoRepeatedKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoRepeatedKeys, E> {
        Ok(NoRepeatedKeys)
    }
    fn visit_unit<E>(self) -> Result<NoRepeatedKeys, E> {
        Ok(NoRepeatedKeys)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut items: A,
    ) -> Result<Self::Value, A::Error> {
        while items.next_element::<NoRepeatedKeys>()?.is_some() {}
        Ok(NoRepeatedKeys)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<NoRepeatedKeys>()?;
            if seen.contains(&key) {
                let key = quoted(&key);
                return Err(serde::de::Error::custom(format!("{key} appears twice")));
            }
            seen.insert(key);
        }
        Ok(NoRepeatedKeys)
    }
}

/// Quotes a value for an error message, cut short so a huge value cannot crowd out the rest.
fn quoted(text: &str) -> String {
    const MAX: usize = 80;
    if text.chars().count() <= MAX {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head:?}… ({} characters)", text.chars().count())
    }
}

fn shown(name: &str) -> String {
    quoted(name).trim_matches('"').to_owned()
}

fn shown_value(value: &Value) -> String {
    match value {
        Value::String(s) => quoted(s),
        other => kind(other).to_owned(),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn valid() -> Map<String, Value> {
        props(json!({
            "ServiceToken": "arn:aws:lambda:us-east-1:111122223333:function:f",
            "ServiceTimeout": "300",
            "ClusterName": "prod",
            "Namespace": "payments",
            "ServiceAccount": "api.v1",
            "RoleArn": "arn:aws:iam::111122223333:role/payments",
        }))
    }

    fn errors(properties: Map<String, Value>) -> Vec<PropertyError> {
        match DesiredAssociation::from_properties(&properties, "us-east-1") {
            Ok(desired) => panic!("expected errors, got {desired:?}"),
            Err(PropertyErrors(errors)) => errors,
        }
    }

    #[test]
    fn reads_a_minimal_association_with_defaults() {
        let desired = DesiredAssociation::from_properties(&valid(), "eu-west-1").unwrap();
        assert_eq!(desired.placement.region, "eu-west-1");
        assert_eq!(desired.placement.service_account, "api.v1");
        assert!(!desired.disable_session_tags);
        assert_eq!(desired.target_role_arn, None);
        assert!(desired.tags.is_empty());
    }

    #[test]
    fn reads_every_optional_property() {
        let mut p = valid();
        p.insert("Region".into(), json!("ap-south-1"));
        p.insert(
            "TargetRoleArn".into(),
            json!("arn:aws:iam::444455556666:role/target"),
        );
        p.insert("DisableSessionTags".into(), json!(true));
        p.insert(
            "Policy".into(),
            json!({"Version": "2012-10-17", "Statement": []}),
        );
        p.insert("Tags".into(), json!([{"Key": "team", "Value": "payments"}]));
        let desired = DesiredAssociation::from_properties(&p, "us-east-1").unwrap();
        assert_eq!(desired.placement.region, "ap-south-1");
        assert!(desired.disable_session_tags);
        assert_eq!(
            desired.policy.as_deref(),
            Some(r#"{"Statement":[],"Version":"2012-10-17"}"#)
        );
        assert_eq!(
            desired.tags.get("team").map(String::as_str),
            Some("payments")
        );
        p.insert("Tags".into(), json!({"team": "x", "n": 3}));
        p.insert("DisableSessionTags".into(), json!("True"));
        let desired = DesiredAssociation::from_properties(&p, "us-east-1").unwrap();
        assert_eq!(desired.tags.get("n").map(String::as_str), Some("3"));
        p.insert("Tags".into(), json!(""));
        let desired = DesiredAssociation::from_properties(&p, "us-east-1").unwrap();
        assert!(desired.tags.is_empty(), "an empty string is no tags");
    }

    /// Where this function would run: the partition and account of the ARN it is invoked by.
    fn home(partition: &str, account: &str) -> Home {
        Home {
            partition: partition.to_owned(),
            account: account.to_owned(),
        }
    }

    #[test]
    fn a_role_of_another_account_is_read_but_not_to_be_sent() {
        let desired = DesiredAssociation::from_properties(&valid(), "us-east-1").unwrap();
        assert_eq!(
            desired.check_role_to_send(&home("aws", "111122223333")),
            Ok(())
        );
        let refused = desired
            .check_role_to_send(&home("aws", "444455556666"))
            .unwrap_err();
        assert_eq!(refused.0.len(), 1);
        assert_eq!(refused.0[0].property, "RoleArn");
        for needle in ["444455556666", "111122223333", "TargetRoleArn"] {
            assert!(refused.0[0].rule.contains(needle), "{refused}");
        }
    }

    /// A Region of another partition than the function's is refused, naming both; one of
    /// its own, one no partition's pattern matches (left to EKS) and the function's own
    /// region, which the template does not name, are not.
    #[test]
    fn a_region_of_another_partition_is_refused() {
        let at_home = home("aws", "111122223333");
        let with_region = |region: &str| {
            let mut p = valid();
            p.insert("Region".into(), json!(region));
            DesiredAssociation::of_new_resource(&p, "us-east-1", Some(&at_home))
        };
        let refused = with_region("cn-north-1").unwrap_err();
        assert_eq!(properties_named(&refused), ["Region"]);
        for needle in ["cn-north-1", "aws-cn", "partition, aws,"] {
            assert!(refused.0[0].rule.contains(needle), "{refused}");
        }
        assert_eq!(
            properties_named(&with_region("us-gov-west-1").unwrap_err()),
            ["Region"]
        );
        for fine in ["eu-west-1", "us-east-1", "xy-east-1"] {
            assert!(with_region(fine).is_ok(), "{fine}");
        }
        let desired = DesiredAssociation::from_properties(&valid(), "cn-north-1").unwrap();
        assert_eq!(desired.check_region_at_home(&at_home, "cn-north-1"), Ok(()));
        assert!(desired.check_region_at_home(&at_home, "us-east-1").is_err());
    }

    /// A template written for the commercial partition, deployed in China: the same account
    /// number, but a role EKS cannot find, whose refusal looks like IAM propagation.
    #[test]
    fn roles_of_another_partition_are_not_to_be_sent() {
        let mut p = valid();
        p.insert(
            "TargetRoleArn".into(),
            json!("arn:aws:iam::444455556666:role/data"),
        );
        let desired = DesiredAssociation::from_properties(&p, "cn-north-1").unwrap();
        let china = home("aws-cn", "111122223333");
        let refused = desired.check_role_to_send(&china).unwrap_err();
        assert_eq!(refused.0.len(), 1, "{refused}");
        assert_eq!(refused.0[0].property, "RoleArn");
        for needle in ["aws-cn", "not aws:", "partition"] {
            assert!(refused.0[0].rule.contains(needle), "{refused}");
        }
        let refused = desired
            .check_target_role_of_new_resource(&china)
            .unwrap_err();
        assert_eq!(refused.0[0].property, "TargetRoleArn");
        assert!(refused.0[0].rule.contains("aws-cn"), "{refused}");
        // Both wrong: both said.
        let both = desired
            .check_role_to_send(&home("aws-cn", "999988887777"))
            .unwrap_err();
        assert_eq!(both.0.len(), 2, "{both}");
        // At home, a target role of another account is what it is for.
        let commercial = home("aws", "111122223333");
        assert_eq!(desired.check_role_to_send(&commercial), Ok(()));
        assert_eq!(
            desired.check_target_role_of_new_resource(&commercial),
            Ok(())
        );
    }

    /// A Create whose properties break a rule when read hears of the rules checked before
    /// sending too, the same as once the read rules hold; not of a Region, role or Tags a read
    /// rule named, which is not yet what would be sent, nor of the function's own region.
    #[test]
    fn a_new_resource_hears_of_every_rule_its_properties_break() {
        let mut p = valid();
        p.insert("Namespace".into(), json!("Payments"));
        p.insert(
            "RoleArn".into(),
            json!("arn:aws:iam::444455556666:role/payments"),
        );
        p.insert(
            "TargetRoleArn".into(),
            json!("arn:aws:iam::444455556666:role/data"),
        );
        p.insert("DisableSessionTags".into(), json!("true"));
        let repeats = r#"{"Version":"2012-10-17","Version":"2008-10-17","Statement":[]}"#;
        p.insert("Policy".into(), json!(repeats));
        p.insert("Tags".into(), json!({"Key": "team", "Value": "payments"}));
        p.insert("Region".into(), json!("us-west-2"));
        let china = home("aws-cn", "111122223333");
        let new = |p: &Map<String, Value>, home: Option<&Home>| {
            DesiredAssociation::of_new_resource(p, "us-east-1", home).unwrap_err()
        };
        let all = new(&p, Some(&china));
        assert_eq!(
            properties_named(&all),
            [
                "Namespace",
                "Region",
                "Policy",
                "RoleArn",
                "RoleArn",
                "TargetRoleArn",
                "Tags"
            ],
            "{all}"
        );
        // The very errors, in the same order, as with the namespace fixed.
        p.insert("Namespace".into(), json!("payments"));
        assert_eq!(new(&p, Some(&china)).0, all.0[1..]);
        // Where the function runs unknown: the Region and the roles go unchecked, as when
        // sending.
        assert_eq!(properties_named(&new(&p, None)), ["Policy", "Tags"]);

        // The function's own region is not checked, on this path as on the other (here, a
        // made-up mix of a function in aws-cn with a default region in aws).
        let mut own = p.clone();
        own.insert("Region".into(), json!("us-east-1"));
        assert_eq!(new(&own, Some(&china)).0, all.0[2..]);
        own.insert("Namespace".into(), json!("Payments"));
        let expected: Vec<&str> = ["Namespace"]
            .into_iter()
            .chain(properties_named(&all)[2..].iter().copied())
            .collect();
        assert_eq!(properties_named(&new(&own, Some(&china))), expected);

        // Nothing to add: only the read rule's error.
        let mut clean = valid();
        clean.insert("Namespace".into(), json!("Payments"));
        clean.insert("Tags".into(), json!([{"Key": "team", "Value": "payments"}]));
        let at_home = home("aws", "111122223333");
        assert_eq!(
            properties_named(&new(&clean, Some(&at_home))),
            ["Namespace"]
        );

        // A Policy a read rule named (here DisableSessionTags') is still the text that would
        // be sent; a Region, role or Tags a read rule named are not checked again.
        p.insert("Namespace".into(), json!("Payments"));
        p.insert("Region".into(), json!("us-gov-west-01"));
        p.insert("DisableSessionTags".into(), json!("false"));
        p.insert(
            "RoleArn".into(),
            json!(["arn:aws:iam::444455556666:role/payments"]),
        );
        p.insert("Tags".into(), json!({"Key": "team", "Value": {"v": 1}}));
        let read = DesiredAssociation::from_properties(&p, "us-east-1").unwrap_err();
        assert_eq!(
            properties_named(&read),
            ["RoleArn", "Namespace", "Region", "Policy", "Tags"]
        );
        assert_eq!(
            properties_named(&new(&p, Some(&china))),
            [
                "RoleArn",
                "Namespace",
                "Region",
                "Policy",
                "Tags",
                "Policy",
                "TargetRoleArn"
            ]
        );
    }

    fn properties_named(errors: &PropertyErrors) -> Vec<&str> {
        errors
            .0
            .iter()
            .map(|error| error.property.as_str())
            .collect()
    }

    #[test]
    fn a_policy_that_repeats_a_key_is_read_but_not_to_be_sent() {
        let cases = [
            (
                r#"{"Statement":[{"Condition":{"StringEquals":{"a":"1"},"StringEquals":{"b":"2"}}}]}"#,
                "Policy: must not repeat a key within one object (only the last would reach EKS): \"StringEquals\" appears twice at line 1 column",
            ),
            (
                r#"{"Version":"2012-10-17","\u0056ersion":"2008-10-17"}"#,
                "\"Version\" appears twice",
            ),
        ];
        for (policy, rule) in cases {
            let mut p = valid();
            p.insert("DisableSessionTags".into(), json!("true"));
            p.insert("Policy".into(), json!(policy));
            let desired = DesiredAssociation::from_properties(&p, "us-east-1").unwrap();
            let refused = desired.check_policy_to_send().unwrap_err().to_string();
            assert!(refused.contains(rule), "{refused}");
        }
    }

    #[test]
    fn a_policy_string_may_use_a_key_in_many_objects() {
        let mut p = valid();
        p.insert("DisableSessionTags".into(), json!("true"));
        let policy = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:a":"1"}}},
            {"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:a":"2"}}}]}"#;
        p.insert("Policy".into(), json!(policy));
        let desired = DesiredAssociation::from_properties(&p, "us-east-1").unwrap();
        assert_eq!(desired.check_policy_to_send(), Ok(()));
        let sent: Value = serde_json::from_str(desired.policy.as_deref().unwrap()).unwrap();
        assert_eq!(sent, serde_json::from_str::<Value>(policy).unwrap());
    }

    #[test]
    fn empty_target_role_means_none() {
        let mut p = valid();
        p.insert("TargetRoleArn".into(), json!(""));
        assert_eq!(
            DesiredAssociation::from_properties(&p, "us-east-1")
                .unwrap()
                .target_role_arn,
            None
        );
    }

    #[test]
    fn an_empty_policy_means_none() {
        let mut p = valid();
        p.insert("Policy".into(), json!(""));
        let desired = DesiredAssociation::from_properties(&p, "us-east-1").unwrap();
        assert_eq!(desired.policy, None);
    }

    #[test]
    fn errors_are_listed_apart() {
        let mut p = valid();
        p.insert("Namespace".into(), json!("Payments"));
        p.insert("ServiceAccount".into(), json!("api_v1"));
        let errors = errors(p);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(
            PropertyErrors(errors.clone()).to_string(),
            format!("Invalid properties: {}; {}", errors[0], errors[1])
        );
    }

    #[test]
    fn each_error_names_its_property() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("ClusterName", json!("-bad"), "letters, digits"),
            ("Namespace", json!("Payments"), "DNS-1123 label"),
            ("Namespace", json!("a".repeat(64)), "DNS-1123 label"),
            ("ServiceAccount", json!("api_v1"), "DNS-1123 subdomain"),
            (
                "RoleArn",
                json!("arn:aws:iam::111122223333:user/x"),
                "IAM role ARN",
            ),
            ("RoleArn", json!(""), "required"),
            ("RoleArn", json!(["x"]), "must be a string"),
            ("TargetRoleArn", json!("not-an-arn"), "IAM role ARN"),
            (
                "RoleArn",
                json!("arn:aws:iam::11112222333:role/x"),
                "the account must be 12 digits",
            ),
            (
                "TargetRoleArn",
                json!(format!("arn:aws:iam::111122223333:role/{}", "r".repeat(65))),
                "1 to 64",
            ),
            ("Region", json!("mars-1"), "region"),
            (
                "DisableSessionTags",
                json!("yes"),
                "must be \"true\" or \"false\"; got \"yes\"",
            ),
            ("DisableSessionTags", json!([true]), "; got a list"),
            ("Policy", json!("{not json"), "not valid JSON"),
            (
                "Policy",
                json!("[1]"),
                "must be a JSON object (an IAM policy document); got a list",
            ),
            ("Policy", json!("\"x\""), "; got a string"),
            ("Tags", json!([{"Key": "aws:x", "Value": "1"}]), "reserved"),
            ("Tags", json!([{"Key": "", "Value": "1"}]), "1 to 128"),
            ("Tags", json!({"k": "v".repeat(257)}), "256"),
            (
                "Tags",
                json!([{"Key": "k"}]),
                "exactly a string Key and a Value",
            ),
            ("Tags", json!("k=v"), "list of {Key, Value}"),
            ("Tags", json!({OWNER_STACK_TAG: "x"}), "record its owner"),
        ];
        for (property, value, rule) in cases {
            let mut p = valid();
            p.insert(property.into(), value.clone());
            let errors = errors(p);
            assert_eq!(errors.len(), 1, "{property}={value}: {errors:?}");
            assert_eq!(errors[0].property, property, "{value}");
            assert!(
                errors[0].rule.contains(rule),
                "{property}={value}: {}",
                errors[0].rule
            );
        }
    }

    #[test]
    fn policy_needs_disabled_session_tags() {
        let mut p = valid();
        p.insert("Policy".into(), json!(r#"{"Version":"2012-10-17"}"#));
        let without = errors(p.clone());
        assert_eq!(without[0].property, "Policy");
        assert!(without[0].rule.contains("DisableSessionTags"));
        // A DisableSessionTags that is not a boolean is its own error, not also Policy's.
        p.insert("DisableSessionTags".into(), json!("yes"));
        let unreadable = errors(p);
        assert_eq!(unreadable.len(), 1, "{unreadable:?}");
        assert_eq!(unreadable[0].property, "DisableSessionTags");
    }

    #[test]
    fn every_bad_tag_is_reported() {
        let mut p = valid();
        p.insert(
            "Tags".into(),
            json!([
                {"Key": "aws:a", "Value": "1"},
                {"Key": "", "Value": "2"},
                {"Key": "ok", "Value": "3"},
                {"Key": "ok", "Value": "4"},
            ]),
        );
        let rules: Vec<String> = errors(p).into_iter().map(|e| e.to_string()).collect();
        assert_eq!(rules.len(), 3, "{rules:?}");
        assert!(
            rules[0].starts_with("Tags: tag keys starting with \"aws:\""),
            "{rules:?}"
        );
        assert!(rules[1].contains("1 to 128"), "{rules:?}");
        assert!(rules[2].contains("more than once"), "{rules:?}");
    }

    #[test]
    fn tag_limit_leaves_room_for_the_ownership_tags() {
        let mut p = valid();
        let tags: Map<String, Value> = (0..49).map(|i| (format!("k{i}"), json!("v"))).collect();
        p.insert("Tags".into(), Value::Object(tags));
        assert!(errors(p)[0].rule.contains("at most 48"));
        let list = |n: usize| -> Value {
            (0..n)
                .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
                .collect()
        };
        p = valid();
        p.insert("Tags".into(), list(49));
        assert!(errors(p)[0].rule.contains("at most 48"));
        // Exactly 48, as a list and as a map.
        let map: Map<String, Value> = (0..48).map(|i| (format!("k{i}"), json!("v"))).collect();
        for tags in [list(48), Value::Object(map)] {
            p = valid();
            p.insert("Tags".into(), tags);
            let desired = DesiredAssociation::from_properties(&p, "us-east-1").unwrap();
            assert_eq!(desired.tags.len(), 48);
        }
    }

    /// Too many tags is said with what else is wrong with them, not alone: one deployment
    /// finds it all.
    #[test]
    fn too_many_tags_is_reported_with_the_other_tag_errors() {
        let mut p = valid();
        let mut tags: Vec<Value> = (0..48)
            .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
            .collect();
        tags.push(json!({"Key": "aws:a", "Value": "1"}));
        p.insert("Tags".into(), Value::Array(tags));
        let rules: Vec<String> = errors(p).into_iter().map(|e| e.rule).collect();
        assert_eq!(rules.len(), 2, "{rules:?}");
        assert!(rules[0].contains("at most 48"), "{rules:?}");
        assert!(rules[1].contains("\"aws:\""), "{rules:?}");
    }

    /// YAML's `Tags:` with `Key:` and `Value:` under it, the list dash forgotten: a map that
    /// would make two tags named Key and Value. Read, as a version before the rule read it,
    /// but refused for a new resource.
    #[test]
    fn one_tag_written_without_its_list_dash_is_read_but_refused_for_a_new_resource() {
        let mut p = valid();
        p.insert("Tags".into(), json!({"Key": "team", "Value": "payments"}));
        let desired = DesiredAssociation::from_properties(&p, "us-east-1").unwrap();
        let refused = desired.check_tags_of_new_resource().unwrap_err();
        assert_eq!(refused.0.len(), 1, "{refused}");
        assert_eq!(refused.0[0].property, "Tags");
        assert!(refused.0[0].rule.contains("without its dash"), "{refused}");
        // A map of other keys is a map of tags, and the list form can name these keys.
        for tags in [
            json!({"Key": "team", "Owner": "payments"}),
            json!([{"Key": "Key", "Value": "team"}, {"Key": "Value", "Value": "payments"}]),
        ] {
            p.insert("Tags".into(), tags);
            let desired = DesiredAssociation::from_properties(&p, "us-east-1").unwrap();
            assert_eq!(desired.check_tags_of_new_resource(), Ok(()));
            assert_eq!(desired.tags.get("Key").map(String::as_str), Some("team"));
        }
    }

    #[test]
    fn unknown_and_missing_properties_are_all_reported() {
        let mut p = valid();
        p.remove("RoleArn");
        p.insert("Namspace".into(), json!("typo"));
        let errors = errors(p);
        let names: Vec<&str> = errors.iter().map(|e| e.property.as_str()).collect();
        assert_eq!(names, vec!["Namspace", "RoleArn"]);
        assert!(errors[0].rule.contains("unknown property"));
        let message = PropertyErrors(errors).to_string();
        assert!(message.starts_with("Invalid properties: Namspace: unknown property"));
    }

    #[test]
    fn huge_values_are_cut_short_in_messages() {
        let mut p = valid();
        p.insert("Namespace".into(), json!("X".repeat(100_000)));
        let errors = errors(p);
        assert!(errors[0].rule.len() < 400, "{}", errors[0].rule.len());
    }

    /// What the schema says forces a replacement is what the association's placement is
    /// made of, which decides replacement (`plan`): changing any other property leaves the
    /// placement as it was.
    #[test]
    fn schema_says_what_forces_replacement() {
        let mut base = valid();
        base.insert("DisableSessionTags".into(), json!("true"));
        let read = |p: &Map<String, Value>| {
            DesiredAssociation::from_properties(p, "us-east-1")
                .unwrap_or_else(|e| panic!("{e}"))
                .placement
        };
        let before = read(&base);
        let changes = [
            ("ClusterName", json!("staging")),
            ("Namespace", json!("billing")),
            ("ServiceAccount", json!("web")),
            ("Region", json!("eu-west-1")),
            ("RoleArn", json!("arn:aws:iam::111122223333:role/other")),
            ("TargetRoleArn", json!("arn:aws:iam::444455556666:role/t")),
            ("DisableSessionTags", json!("false")),
            ("Policy", json!({"Version": "2012-10-17"})),
            ("Tags", json!([{"Key": "team", "Value": "x"}])),
        ];
        assert_eq!(changes.len(), SCHEMA.len());
        for ((name, update), (changed, value)) in SCHEMA.iter().zip(changes) {
            assert_eq!(*name, changed);
            let mut after = base.clone();
            after.insert(changed.to_owned(), value);
            if changed == "DisableSessionTags" {
                after.remove("Policy");
            }
            let moved = read(&after) != before;
            assert_eq!(moved, *update == Update::Replacement, "{name}");
        }
    }

    /// Each limit takes a value at its edge and refuses one past it, naming the property.
    #[test]
    fn limits_are_checked_at_their_edges() {
        let mut p = valid();
        p.insert("DisableSessionTags".into(), json!("true"));
        // `{"a":"…"}` as compact JSON: 8 characters around the value.
        let policy = |len: usize| json!({ "a": "x".repeat(len - 8) });
        p.insert("Policy".into(), policy(MAX_POLICY_LEN));
        assert!(DesiredAssociation::from_properties(&p, "us-east-1").is_ok());
        p.insert("Policy".into(), policy(MAX_POLICY_LEN + 1));
        let refused = errors(p.clone());
        assert_eq!(refused[0].property, "Policy");
        assert!(
            refused[0].rule.contains("at most 2048"),
            "{}",
            refused[0].rule
        );
        p.remove("Policy");

        let tag = |key: String| json!([{ "Key": key, "Value": "v" }]);
        p.insert("Tags".into(), tag("k".repeat(128)));
        assert!(DesiredAssociation::from_properties(&p, "us-east-1").is_ok());
        p.insert("Tags".into(), tag("k".repeat(129)));
        assert!(errors(p.clone())[0].rule.contains("1 to 128"));
        p.insert(
            "Tags".into(),
            json!([{ "Key": "k", "Value": "v".repeat(256) }]),
        );
        assert!(DesiredAssociation::from_properties(&p, "us-east-1").is_ok());
        p.insert(
            "Tags".into(),
            json!([{ "Key": "k", "Value": "v".repeat(257) }]),
        );
        assert_eq!(errors(p.clone())[0].property, "Tags");
        // The ownership tags are the function's own.
        for key in [OWNER_STACK_TAG, OWNER_LOGICAL_ID_TAG] {
            p.insert("Tags".into(), tag(key.to_owned()));
            assert_eq!(errors(p.clone())[0].property, "Tags", "{key}");
        }
    }

    #[test]
    fn dns_names() {
        assert!(
            is_dns1123_label("a") && is_dns1123_label("kube-system") && is_dns1123_label("0abc")
        );
        assert!(!is_dns1123_label("a.b") && !is_dns1123_label("-a") && !is_dns1123_label(""));
        assert!(is_dns1123_subdomain("a.b-c.d") && !is_dns1123_subdomain("a..b"));
        assert!(!is_dns1123_subdomain(&"a".repeat(254)));
    }
}
