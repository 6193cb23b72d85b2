//! The input rules EKS enforces on Pod Identity requests: IAM role ARNs,
//! tags, session policies, and the format of association ARNs.

use std::collections::BTreeMap;

use super::error::EksError;
use super::model::ACCOUNT_ID;
use crate::wire::partition_of;

/// At most this many tags per resource.
pub const MAX_TAGS: usize = 50;

/// True if `arn` has the form `arn:<partition>:iam::<12 digits>:role/<path/name>`.
pub fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
        return false;
    };
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return false;
    };
    let segments: Vec<&str> = path_and_name.split('/').collect();
    *prefix == "arn"
        && !partition.is_empty()
        && partition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-')
        && *service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
        })
        && segments.last().is_some_and(|name| name.len() <= 64)
}

/// Checks a role ARN, naming the parameter in the error.
pub fn check_role_arn(parameter: &str, arn: &str) -> Result<(), EksError> {
    if is_role_arn(arn) {
        Ok(())
    } else {
        Err(EksError::invalid_parameter(format!(
            "{parameter} '{arn}' is not a valid IAM role ARN."
        )))
    }
}

/// The tag rules, as a message saying which one `tags` breaks.
pub fn tag_problem(tags: &BTreeMap<String, String>) -> Option<String> {
    if tags.len() > MAX_TAGS {
        return Some(format!("A resource can have at most {MAX_TAGS} tags."));
    }
    tags.iter().find_map(|(key, value)| {
        let key_len = key.chars().count();
        if !(1..=128).contains(&key_len) {
            Some(format!("Tag key '{key}' must be 1 to 128 characters long."))
        } else if value.chars().count() > 256 {
            Some(format!(
                "Value of tag '{key}' must be at most 256 characters long."
            ))
        } else if key.to_ascii_lowercase().starts_with("aws:") {
            Some(format!("Tag key '{key}' uses the reserved prefix 'aws:'."))
        } else {
            None
        }
    })
}

/// A session policy must be a JSON object.
pub fn check_policy(policy: &str) -> Result<(), EksError> {
    match serde_json::from_str::<serde_json::Value>(policy) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        _ => Err(EksError::invalid_parameter(
            "policy must be a JSON policy document.",
        )),
    }
}

/// The parts of an association ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociationArn {
    /// Region.
    pub region: String,
    /// Cluster name.
    pub cluster: String,
    /// Association id.
    pub id: String,
}

/// Parses `arn:{partition}:eks:{region}:{account}:podidentityassociation/{cluster}/{id}`
/// for this stand-in's account; `None` for anything else.
pub fn parse_association_arn(arn: &str) -> Option<AssociationArn> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
        return None;
    };
    let rest = resource.strip_prefix("podidentityassociation/")?;
    let (cluster, id) = rest.split_once('/')?;
    let valid = *prefix == "arn"
        && !region.is_empty()
        && *partition == partition_of(region)
        && *service == "eks"
        && *account == ACCOUNT_ID
        && !cluster.is_empty()
        && !id.is_empty()
        && !id.contains('/');
    valid.then(|| AssociationArn {
        region: region.to_string(),
        cluster: cluster.to_string(),
        id: id.to_string(),
    })
}

/// The ARN of an association.
pub fn association_arn(region: &str, cluster: &str, id: &str) -> String {
    format!(
        "arn:{}:eks:{region}:{ACCOUNT_ID}:podidentityassociation/{cluster}/{id}",
        partition_of(region)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_follow_the_iam_format() {
        for good in [
            "arn:aws:iam::111122223333:role/my-role",
            "arn:aws:iam::111122223333:role/service-role/path/My.Role+x=y,z@q_1",
            "arn:aws-cn:iam::123456789012:role/r",
            "arn:aws-us-gov:iam::123456789012:role/r",
        ] {
            assert!(is_role_arn(good), "{good}");
        }
        for bad in [
            "",
            "my-role",
            "arn:aws:iam::111122223333:user/bob",
            "arn:aws:iam::11112222333:role/r",
            "arn:aws:iam::1111222233334:role/r",
            "arn:aws:iam:us-east-1:111122223333:role/r",
            "arn:aws:sts::111122223333:role/r",
            "arn:aws:iam::111122223333:role/",
            "arn:aws:iam::111122223333:role/a//b",
            "arn:aws:iam::111122223333:role/a b",
            "arn::iam::111122223333:role/r",
            "arn:aws:iam::abcdefghijkl:role/r",
            &format!("arn:aws:iam::111122223333:role/{}", "x".repeat(65)),
        ] {
            assert!(!is_role_arn(bad), "{bad}");
        }
        assert_eq!(
            check_role_arn("roleArn", "nope").map_err(|e| (e.status, e.error_type)),
            Err((400, "InvalidParameterException".to_string()))
        );
    }

    #[test]
    fn tag_rules() {
        let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(tag_problem(&tags(&[("team", "a"), ("empty", "")])), None);
        assert!(tag_problem(&tags(&[("", "v")])).is_some());
        assert!(tag_problem(&tags(&[(&"k".repeat(129), "v")])).is_some());
        assert_eq!(
            tag_problem(&tags(&[(&"k".repeat(128), &"v".repeat(256))])),
            None
        );
        assert!(tag_problem(&tags(&[("k", &"v".repeat(257))])).is_some());
        assert!(tag_problem(&tags(&[("aws:cloudformation:stack-name", "s")])).is_some());
        assert!(tag_problem(&tags(&[("AWS:x", "s")])).is_some());
        let fifty: BTreeMap<String, String> =
            (0..50).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(tag_problem(&fifty), None);
        let fifty_one: BTreeMap<String, String> =
            (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(tag_problem(&fifty_one).is_some());
    }

    #[test]
    fn policies_must_be_json_objects() {
        assert!(check_policy(r#"{"Version":"2012-10-17","Statement":[]}"#).is_ok());
        assert!(check_policy("not json").is_err());
        assert!(check_policy("[]").is_err());
    }

    #[test]
    fn association_arns_round_trip_and_know_their_partition() {
        let arn = association_arn("eu-west-1", "prod", "a-0123456789abcdefg");
        assert_eq!(
            arn,
            "arn:aws:eks:eu-west-1:111122223333:podidentityassociation/prod/a-0123456789abcdefg"
        );
        assert_eq!(
            parse_association_arn(&arn),
            Some(AssociationArn {
                region: "eu-west-1".into(),
                cluster: "prod".into(),
                id: "a-0123456789abcdefg".into()
            })
        );
        assert!(association_arn("cn-north-1", "c", "a-1").starts_with("arn:aws-cn:eks:cn-north-1:"));
        assert!(association_arn("us-gov-west-1", "c", "a-1").starts_with("arn:aws-us-gov:eks:"));
        for bad in [
            "arn:aws:eks:us-east-1:111122223333:cluster/prod",
            "arn:aws:eks:us-east-1:999999999999:podidentityassociation/prod/a-1",
            "arn:aws-cn:eks:us-east-1:111122223333:podidentityassociation/prod/a-1",
            "arn:aws:eks:us-east-1:111122223333:podidentityassociation/prod",
            "arn:aws:eks:us-east-1:111122223333:podidentityassociation/prod/a-1/x",
            "nonsense",
        ] {
            assert_eq!(parse_association_arn(bad), None, "{bad}");
        }
    }
}
