//! The ARNs this function reads: pod identity associations, IAM roles, Lambda functions.
//!
//! An association's ARN is its PhysicalResourceId, and it names the region, the cluster and
//! the id: enough to find the association again from a Delete event alone, even when the
//! event's properties are gone or wrong.

use std::fmt;

/// `arn:PARTITION:eks:REGION:ACCOUNT:podidentityassociation/CLUSTER/ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociationArn {
    /// `aws`, `aws-cn`, `aws-us-gov`, …
    pub partition: String,
    /// The region the association lives in.
    pub region: String,
    /// The account that owns the cluster.
    pub account: String,
    /// The cluster's name.
    pub cluster: String,
    /// The association's id: `a-` and 17 lowercase letters and digits, as EKS makes them
    /// (see [`is_association_id`] for what is read).
    pub id: String,
}

impl AssociationArn {
    /// Reads an association ARN; `None` for anything else (a failed Create's id, or one that
    /// CloudFormation invented), which callers treat as "nothing of ours exists".
    pub fn parse(text: &str) -> Option<AssociationArn> {
        let mut parts = text.splitn(6, ':');
        let (arn, partition, service, region, account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let mut path = resource.split('/');
        let (kind, cluster, id) = (path.next()?, path.next()?, path.next()?);
        let valid = arn == "arn"
            && is_partition(partition)
            && service == "eks"
            && is_region(region)
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && kind == "podidentityassociation"
            && is_cluster_name(cluster)
            && is_association_id(id)
            && path.next().is_none();
        valid.then(|| AssociationArn {
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            cluster: cluster.to_owned(),
            id: id.to_owned(),
        })
    }
}

impl fmt::Display for AssociationArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:eks:{}:{}:podidentityassociation/{}/{}",
            self.partition, self.region, self.account, self.cluster, self.id
        )
    }
}

/// An association id, read more loosely than EKS makes them today (`a-` and 17 lowercase
/// letters and digits, a shape its API model does not promise): 1 to 64 letters, digits, `-`
/// and `_`. An ARN whose id this refused would be taken for an id CloudFormation invented, and
/// the association it names, never found by its ARN nor among those listed at its service
/// account, would be left behind by the stack's Delete. No id CloudFormation invents is
/// shaped like an association ARN, whatever its id, so nothing else is taken for one.
pub fn is_association_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `aws`, or `aws-` and a lowercase suffix (`aws-cn`, `aws-us-gov`, `aws-iso-b`, …).
pub fn is_partition(text: &str) -> bool {
    text == "aws"
        || text.strip_prefix("aws-").is_some_and(|rest| {
            !rest.is_empty()
                && !rest.ends_with('-')
                && rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        })
}

/// A region name such as `us-east-1` or `us-gov-west-1`.
pub fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts.len() <= 5
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1]
            .parse::<u8>()
            .is_ok_and(|n| n.to_string() == parts[parts.len() - 1])
}

/// The partition a region name is in, by the patterns of the SDK's partition table
/// (`^cn-\w+-\d+$` is aws-cn, `^us-gov-\w+-\d+$` aws-us-gov, and so on; aws's is a region of
/// the geographies `us`, `eu`, `ap`, `sa`, `ca`, `me`, `af`, `il` or `mx`). `None` for a name
/// no pattern matches, of which nothing is assumed (the SDK sends such a name to aws's
/// endpoints): a partition or geography added after this list is left to EKS, never refused.
pub fn partition_of_region(region: &str) -> Option<&'static str> {
    let word = |part: &str| {
        !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    let number = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let (area, n, partition) = match region.split('-').collect::<Vec<_>>().as_slice() {
        ["cn", area, n] => (*area, *n, "aws-cn"),
        ["us", "gov", area, n] => (*area, *n, "aws-us-gov"),
        ["us", "iso", area, n] => (*area, *n, "aws-iso"),
        ["us", "isob", area, n] => (*area, *n, "aws-iso-b"),
        ["us", "isof", area, n] => (*area, *n, "aws-iso-f"),
        ["eu", "isoe", area, n] => (*area, *n, "aws-iso-e"),
        ["eusc", "de", area, n] => (*area, *n, "aws-eusc"),
        [geo, area, n] if ["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"].contains(geo) => {
            (*area, *n, "aws")
        }
        _ => return None,
    };
    (word(area) && number(n)).then_some(partition)
}

/// An EKS cluster name: 1 to 100 letters, digits, `-` and `_`, starting with a letter or digit.
pub fn is_cluster_name(text: &str) -> bool {
    (1..=100).contains(&text.len())
        && text
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Which rule of an IAM role ARN (`arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`) `text`
/// breaks first, or `None` for a role ARN. IAM's own limits: a name of 1 to 64 of
/// `[A-Za-z0-9+=,.@_-]`, a path of printable ASCII without spaces, 512 characters at most.
pub fn role_arn_problem(text: &str) -> Option<&'static str> {
    let mut parts = text.splitn(6, ':');
    let fields: Vec<&str> = (0..6).map_while(|_| parts.next()).collect();
    let [arn, partition, service, region, account, resource] = fields[..] else {
        return Some("it has fewer than six colon-separated fields");
    };
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return Some("the resource must start with role/");
    };
    let (path, name) = match path_and_name.rsplit_once('/') {
        Some((path, name)) => (Some(path), name),
        None => (None, path_and_name),
    };
    let name_ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    // The ARN shows IAM's path `/a/b/` as `a/b`, without its outer slashes.
    let path_ok = path.is_none_or(|path| {
        path.len() + 2 <= 512
            && path
                .split('/')
                .all(|segment| !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_graphic()))
    });
    if arn != "arn" {
        Some("it must start with arn:")
    } else if !is_partition(partition) {
        Some("the partition must be aws or aws-... (such as aws-cn or aws-us-gov)")
    } else if service != "iam" {
        Some("the service must be iam")
    } else if !region.is_empty() {
        Some("the region field must be empty (IAM is global)")
    } else if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        Some("the account must be 12 digits")
    } else if !name_ok {
        Some("the role name must be 1 to 64 letters, digits or +=,.@_-")
    } else if !path_ok {
        Some("a path must be segments of printable ASCII without spaces, at most 512 characters")
    } else {
        None
    }
}

/// The function name inside a Lambda function ARN (`arn:…:lambda:…:function:NAME[:QUALIFIER]`),
/// or `None` when the text is not one.
pub fn lambda_function_name(text: &str) -> Option<&str> {
    let mut parts = text.split(':');
    let (arn, _partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (_region, _account, kind, name) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (arn == "arn" && service == "lambda" && kind == "function" && !name.is_empty()).then_some(name)
}

/// The account an ARN names (`arn:PARTITION:SERVICE:REGION:ACCOUNT:...`), when it is 12
/// digits.
pub fn account_of(text: &str) -> Option<&str> {
    let mut parts = text.splitn(6, ':');
    let arn = parts.next()?;
    let account = parts.nth(3)?;
    let is_account = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    (arn == "arn" && is_account && parts.next().is_some()).then_some(account)
}

/// The partition an ARN names (`arn:PARTITION:...`), when it reads as one.
pub fn partition_of(text: &str) -> Option<&str> {
    let mut parts = text.split(':');
    let (arn, partition) = (parts.next()?, parts.next()?);
    (arn == "arn" && is_partition(partition)).then_some(partition)
}

/// Where this function runs, from the ARN Lambda invokes it by: its partition, the only one
/// whose roles EKS can pass it, and its account, whose clusters it manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    /// `aws`, `aws-cn`, `aws-us-gov`, …
    pub partition: String,
    /// The 12-digit account.
    pub account: String,
}

impl Home {
    /// The partition and account of the ARN Lambda invoked the function by; `None` when it
    /// names no account (a local emulator may invent a name), so that nothing is checked.
    pub fn of(function_arn: &str) -> Option<Home> {
        Some(Home {
            partition: partition_of(function_arn)?.to_owned(),
            account: account_of(function_arn)?.to_owned(),
        })
    }
}

/// Whether the text is an SNS topic ARN.
pub fn is_sns_topic(text: &str) -> bool {
    let mut parts = text.split(':');
    parts.next() == Some("arn") && parts.nth(1) == Some("sns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arn_names_its_account() {
        let function = "arn:aws:lambda:us-east-1:111122223333:function:f:live";
        assert_eq!(account_of(function), Some("111122223333"));
        assert_eq!(
            account_of("arn:aws:iam::444455556666:role/a/b"),
            Some("444455556666")
        );
        assert_eq!(
            account_of("arn:aws:iam::4444:role/r"),
            None,
            "not 12 digits"
        );
        assert_eq!(account_of("arn:aws:iam::444455556666"), None, "no resource");
        assert_eq!(account_of("cfn-eks-pod-identity"), None);
        assert_eq!(
            Home::of("arn:aws-cn:lambda:cn-north-1:111122223333:function:f:live"),
            Some(Home {
                partition: "aws-cn".to_owned(),
                account: "111122223333".to_owned()
            })
        );
        assert_eq!(Home::of("arn:aws:lambda:us-east-1:4444:function:f"), None);
        assert_eq!(Home::of("cfn-eks-pod-identity"), None);
        assert_eq!(
            partition_of("arn:aws-us-gov:iam::111122223333:role/r"),
            Some("aws-us-gov")
        );
        assert_eq!(partition_of("arn:AWS:iam::111122223333:role/r"), None);
    }

    #[test]
    fn association_arn_round_trips() {
        let text = "arn:aws:eks:eu-west-1:111122223333:podidentityassociation/my-cluster/a-abcdefghij1234567";
        let arn = AssociationArn::parse(text).unwrap();
        assert_eq!(arn.region, "eu-west-1");
        assert_eq!(arn.cluster, "my-cluster");
        assert_eq!(arn.id, "a-abcdefghij1234567");
        assert_eq!(arn.to_string(), text);
        let gov = "arn:aws-us-gov:eks:us-gov-west-1:111122223333:podidentityassociation/c_1/a-0000000000000000a";
        assert!(AssociationArn::parse(gov).is_some());
        // Ids of another shape than today's, should EKS ever make them.
        for id in ["a-short", "a-ABCDEFGHIJ1234567", "pia_0123456789abcdef0123"] {
            let text = format!("arn:aws:eks:us-east-1:111122223333:podidentityassociation/c/{id}");
            assert_eq!(
                AssociationArn::parse(&text).map(|a| a.id),
                Some(id.to_owned())
            );
        }
    }

    #[test]
    fn rejects_ids_that_are_not_association_arns() {
        for text in [
            "",
            "MyStack-MyResource-1A2B3C4D5E6F",
            "arn:aws:eks:us-east-1:111122223333:cluster/my-cluster",
            "arn:aws:eks:us-east-1:111122223333:podidentityassociation/c/",
            "arn:aws:eks:us-east-1:111122223333:podidentityassociation/c/a-1?x=y",
            "arn:aws:eks:us-east-1:111122223333:podidentityassociation/c/a-1%2Fx",
            "arn:aws:eks:us-east-1:111122223333:podidentityassociation/c/a b",
            "arn:aws:eks:us-east-1:1111:podidentityassociation/c/a-abcdefghij1234567",
            "arn:aws:eks:us-east-1:111122223333:podidentityassociation/c/a-abcdefghij1234567/x",
            "arn:aws:iam::111122223333:role/r",
        ] {
            assert_eq!(AssociationArn::parse(text), None, "{text}");
        }
        let too_long = format!(
            "arn:aws:eks:us-east-1:111122223333:podidentityassociation/c/{}",
            "a".repeat(65)
        );
        assert_eq!(AssociationArn::parse(&too_long), None);
    }

    #[test]
    fn role_arns() {
        let is_role_arn = |text: &str| role_arn_problem(text).is_none();
        assert!(is_role_arn("arn:aws:iam::111122223333:role/my-role"));
        assert!(is_role_arn(
            "arn:aws-cn:iam::111122223333:role/path/to/r+=,.@_-"
        ));
        assert!(!is_role_arn("arn:aws:iam::111122223333:user/u"));
        assert!(!is_role_arn("arn:aws:iam:us-east-1:111122223333:role/r"));
        assert!(!is_role_arn("arn:aws:iam::11112222333:role/r"));
        assert!(!is_role_arn("arn:aws:iam::111122223333:role/"));
        assert!(!is_role_arn("arn:aws:iam::111122223333:role/a b"));
        assert!(!is_role_arn("role/r"));
        assert!(!is_role_arn(&format!(
            "arn:aws:iam::111122223333:role/{}",
            "r".repeat(65)
        )));
        // A path may hold any printable ASCII; the name may not.
        assert!(is_role_arn("arn:aws:iam::111122223333:role/team~x/a!b/app"));
        assert!(!is_role_arn("arn:aws:iam::111122223333:role/team/a~pp"));
        assert!(!is_role_arn("arn:aws:iam::111122223333:role//app"));
        assert!(!is_role_arn("arn:aws:iam::111122223333:role/a b/app"));
        let path = "p".repeat(510);
        assert!(is_role_arn(&format!(
            "arn:aws:iam::111122223333:role/{path}/r"
        )));
        assert!(!is_role_arn(&format!(
            "arn:aws:iam::111122223333:role/{path}p/r"
        )));
    }

    #[test]
    fn a_role_arn_problem_names_the_part_at_fault() {
        let problem = |text: &str| role_arn_problem(text).unwrap_or_default();
        assert!(problem("payments-api").contains("six"));
        assert!(problem("arn:aws:iam::111122223333:user/u").contains("role/"));
        assert!(problem("arn:azure:iam::111122223333:role/r").contains("partition"));
        assert!(problem("arn:aws:sts::111122223333:role/r").contains("service"));
        assert!(problem("arn:aws:iam:us-east-1:111122223333:role/r").contains("region"));
        assert!(problem("arn:aws:iam::11112222333:role/r").contains("12 digits"));
        assert!(problem(&format!(
            "arn:aws:iam::111122223333:role/{}",
            "r".repeat(65)
        ))
        .contains("64"));
        assert!(problem("arn:aws:iam::111122223333:role/a b/r").contains("path"));
        assert_eq!(role_arn_problem("arn:aws:iam::111122223333:role/r"), None);
    }

    #[test]
    fn regions_and_clusters() {
        assert!(
            is_region("us-east-1") && is_region("us-gov-west-1") && is_region("ap-southeast-10")
        );
        assert!(!is_region("us-east") && !is_region("US-EAST-1") && !is_region("us-east-01"));
        assert!(is_cluster_name("prod_cluster-1"));
        assert!(!is_cluster_name("-prod") && !is_cluster_name("a.b") && !is_cluster_name(""));
        assert!(!is_cluster_name(&"c".repeat(101)));
    }

    /// Every region of the SDK's partition table (aws-sdk-eks 1.160), and one made up
    /// (eu-south-9), is placed in its partition; a name no pattern matches, in none.
    #[test]
    fn regions_are_placed_in_their_partitions() {
        let table: [(&str, &[&str]); 8] = [
            (
                "aws",
                &[
                    "af-south-1",
                    "ap-east-1",
                    "ap-east-2",
                    "ap-northeast-1",
                    "ap-northeast-2",
                    "ap-northeast-3",
                    "ap-south-1",
                    "ap-south-2",
                    "ap-southeast-1",
                    "ap-southeast-2",
                    "ap-southeast-3",
                    "ap-southeast-4",
                    "ap-southeast-5",
                    "ap-southeast-6",
                    "ap-southeast-7",
                    "ca-central-1",
                    "ca-west-1",
                    "eu-central-1",
                    "eu-central-2",
                    "eu-north-1",
                    "eu-south-1",
                    "eu-south-2",
                    "eu-west-1",
                    "eu-west-2",
                    "eu-west-3",
                    "il-central-1",
                    "me-central-1",
                    "me-south-1",
                    "mx-central-1",
                    "sa-east-1",
                    "us-east-1",
                    "us-east-2",
                    "us-west-1",
                    "us-west-2",
                    "eu-south-9",
                ],
            ),
            ("aws-cn", &["cn-north-1", "cn-northwest-1"]),
            ("aws-eusc", &["eusc-de-east-1"]),
            ("aws-iso", &["us-iso-east-1", "us-iso-west-1"]),
            ("aws-iso-b", &["us-isob-east-1", "us-isob-west-1"]),
            ("aws-iso-e", &["eu-isoe-west-1"]),
            ("aws-iso-f", &["us-isof-east-1", "us-isof-south-1"]),
            ("aws-us-gov", &["us-gov-east-1", "us-gov-west-1"]),
        ];
        for (partition, regions) in table {
            for region in regions {
                assert_eq!(partition_of_region(region), Some(partition), "{region}");
            }
        }
        for unknown in [
            "xy-east-1",
            "us-east",
            "us-isoz-east-1",
            "eusc-fr-east-1",
            "cn-north-x",
            "us--1",
            "us-ea.st-1",
        ] {
            assert_eq!(partition_of_region(unknown), None, "{unknown}");
        }
        // The table's patterns take `\w`, which includes `_`.
        assert_eq!(partition_of_region("us-a_b-1"), Some("aws"));
    }

    #[test]
    fn partition_names() {
        for good in ["aws", "aws-cn", "aws-us-gov", "aws-iso-b"] {
            assert!(is_partition(good), "{good}");
        }
        for bad in ["", "aws-", "aws-cn-", "aws-CN", "aws-c1", "awscn", "amazon"] {
            assert!(!is_partition(bad), "{bad}");
        }
    }

    #[test]
    fn lambda_and_sns_tokens() {
        assert_eq!(
            lambda_function_name("arn:aws:lambda:us-east-1:111122223333:function:f:live"),
            Some("f")
        );
        for not_a_function in [
            "xrn:aws:lambda:us-east-1:111122223333:function:f",
            "arn:aws:states:us-east-1:111122223333:function:f",
            "arn:aws:lambda:us-east-1:111122223333:layer:f",
            "arn:aws:lambda:us-east-1:111122223333:function:",
        ] {
            assert_eq!(
                lambda_function_name(not_a_function),
                None,
                "{not_a_function}"
            );
        }
        assert_eq!(
            lambda_function_name("arn:aws:sns:us-east-1:111122223333:topic"),
            None
        );
        assert!(is_sns_topic("arn:aws:sns:us-east-1:111122223333:topic"));
        assert!(!is_sns_topic(
            "arn:aws:lambda:us-east-1:111122223333:function:f"
        ));
    }
}
