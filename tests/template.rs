//! The SAM template's IAM policy grants exactly what the function needs: the eight EKS
//! actions on cluster and association ARNs, and iam:PassRole only to the Pod Identity
//! service. A broadened grant fails here, not in a security review.

use yaml_rust2::{Yaml, YamlLoader};

const EKS_ON_CLUSTER: &[&str] = &[
    "eks:CreatePodIdentityAssociation",
    "eks:ListPodIdentityAssociations",
];
const EKS_ON_ASSOCIATION: &[&str] = &[
    "eks:DescribePodIdentityAssociation",
    "eks:UpdatePodIdentityAssociation",
    "eks:DeletePodIdentityAssociation",
    "eks:TagResource",
    "eks:UntagResource",
    "eks:ListTagsForResource",
];

fn template() -> Yaml {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

fn strings(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Array(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// Every statement of every policy attached to the template's functions.
fn statements(template: &Yaml) -> Vec<Yaml> {
    let resources = template["Resources"].as_hash().unwrap();
    let mut out = Vec::new();
    for resource in resources.values() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        for policy in resource["Properties"]["Policies"].as_vec().unwrap() {
            out.extend(policy["Statement"].as_vec().unwrap().iter().cloned());
        }
    }
    out
}

#[test]
fn the_policy_grants_only_what_the_function_needs() {
    let statements = statements(&template());
    assert_eq!(statements.len(), 3, "{statements:?}");
    let mut granted = Vec::new();
    for statement in &statements {
        assert_eq!(statement["Effect"].as_str(), Some("Allow"));
        assert!(statement["NotAction"].is_badvalue() && statement["NotResource"].is_badvalue());
        let actions = strings(&statement["Action"]);
        let resources = strings(&statement["Resource"]);
        assert_eq!(resources.len(), 1, "{resources:?}");
        let resource = &resources[0];
        for action in &actions {
            assert!(!action.contains('*'), "wildcard action {action}");
            let expected_resource = if EKS_ON_CLUSTER.contains(&action.as_str()) {
                "arn:${AWS::Partition}:eks:*:${AWS::AccountId}:cluster/${ClusterNamePattern}"
            } else if EKS_ON_ASSOCIATION.contains(&action.as_str()) {
                "arn:${AWS::Partition}:eks:*:${AWS::AccountId}:podidentityassociation/${ClusterNamePattern}/*"
            } else if action == "iam:PassRole" {
                let condition = &statement["Condition"]["StringEquals"]["iam:PassedToService"];
                assert_eq!(
                    condition.as_str(),
                    Some("pods.eks.amazonaws.com"),
                    "PassRole without its condition"
                );
                assert_eq!(statement["Condition"].as_hash().map(|h| h.len()), Some(1));
                "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${PassableRolePattern}"
            } else {
                panic!("the policy grants {action}, which the function does not use");
            };
            assert_eq!(resource, expected_resource, "{action}");
            granted.push(action.clone());
        }
    }
    granted.sort();
    let mut expected: Vec<String> = EKS_ON_CLUSTER
        .iter()
        .chain(EKS_ON_ASSOCIATION)
        .chain(&["iam:PassRole"])
        .map(|s| s.to_string())
        .collect();
    expected.sort();
    assert_eq!(
        granted, expected,
        "every action the function uses, each once"
    );
}

#[test]
fn the_function_is_arm64_al2023_with_a_timeout_that_fits_the_retries() {
    let template = template();
    let function = &template["Resources"]["Function"];
    assert_eq!(
        function["Metadata"]["BuildMethod"].as_str(),
        Some("rust-cargolambda")
    );
    let properties = &function["Properties"];
    assert_eq!(properties["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(strings(&properties["Architectures"]), vec!["arm64"]);
    // IAM propagation is retried for up to 120 s; the function needs room beyond that.
    let timeout = properties["Timeout"].as_i64().unwrap();
    assert!((180..=900).contains(&timeout), "{timeout}");
    let retention = &template["Resources"]["LogGroup"]["Properties"]["RetentionInDays"];
    assert!(!retention.is_badvalue(), "the log group has a retention");
    let output = &template["Outputs"]["ServiceToken"];
    assert!(
        !output["Export"]["Name"].is_badvalue(),
        "the ServiceToken is exported"
    );
}
