//! The SAM templates' IAM policies grant exactly what the function needs: the EKS actions
//! src/eks.rs calls, on cluster and association ARNs, and iam:PassRole only to the Pod
//! Identity service. A broadened grant fails here, not in a security review; a call added
//! without its grant fails here, not at a user's first deployment. And `make deploy` names
//! the stack the examples import the ServiceToken from.

use yaml_rust2::{Yaml, YamlLoader};

/// Authorized on the cluster: they name no association yet.
const EKS_ON_CLUSTER: &[&str] = &[
    "eks:CreatePodIdentityAssociation",
    "eks:ListPodIdentityAssociations",
];

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The EKS actions the function calls: each operation of the API model whose SDK method
/// (`.create_pod_identity_association()`, `.tag_resource()`, ...) src/eks.rs calls.
fn eks_actions_used() -> Vec<String> {
    let model: serde_json::Value = serde_json::from_str(&api_model()).unwrap();
    let code = read("src/eks.rs");
    let mut used: Vec<String> = model["operations"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|operation| code.contains(&format!(".{}()", snake_case(operation))))
        .map(|operation| format!("eks:{operation}"))
        .collect();
    used.sort();
    used
}

/// The EKS API model, as copied into `tests/fixtures` so that a clone tests on its own. With
/// the project's shared reference beside the checkout, the copy must match it: a model that
/// gained an operation there is copied before this test trusts the copy.
fn api_model() -> String {
    let copy = read("tests/fixtures/eks-pod-identity-api.json");
    let shared = format!(
        "{}/../shared/reference/eks-pod-identity-api.json",
        env!("CARGO_MANIFEST_DIR")
    );
    if let Ok(reference) = std::fs::read_to_string(&shared) {
        let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
        assert!(
            parse(&reference) == parse(&copy),
            "tests/fixtures/eks-pod-identity-api.json differs from {shared}: copy it again"
        );
    }
    copy
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() && !out.is_empty() {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn template() -> Yaml {
    yaml("template.yaml")
}

fn yaml(path: &str) -> Yaml {
    YamlLoader::load_from_str(&read(path)).unwrap().remove(0)
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
fn the_model_and_the_code_agree_on_the_actions_used() {
    // The model names eight operations; the tags come with Describe, so ListTagsForResource
    // is never called. A typo in the derivation would make this list short.
    assert_eq!(
        eks_actions_used(),
        [
            "eks:CreatePodIdentityAssociation",
            "eks:DeletePodIdentityAssociation",
            "eks:DescribePodIdentityAssociation",
            "eks:ListPodIdentityAssociations",
            "eks:TagResource",
            "eks:UntagResource",
            "eks:UpdatePodIdentityAssociation",
        ]
    );
}

#[test]
fn the_policy_grants_only_what_the_function_needs() {
    let used = eks_actions_used();
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
            } else if used.contains(action) {
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
    let mut expected = used;
    expected.push("iam:PassRole".to_owned());
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

#[test]
fn the_sam_example_grants_the_same_actions() {
    let mut granted: Vec<String> = statements(&yaml("examples/sam/template.yaml"))
        .iter()
        .flat_map(|statement| strings(&statement["Action"]))
        .collect();
    granted.sort();
    let mut expected = eks_actions_used();
    expected.push("iam:PassRole".to_owned());
    expected.sort();
    assert_eq!(granted, expected);
}

/// A stack deployed under another name exports another ServiceToken, and every example's
/// `Fn::ImportValue` fails with "No export named".
#[test]
fn make_deploy_names_the_stack_the_examples_import_from() {
    let makefile = read("Makefile");
    let mut target = makefile.lines().skip_while(|l| !l.starts_with("deploy:"));
    let head = target.next().expect("a deploy target");
    // cargo-lambda, zig and the arm64 target, which `sam build` runs.
    for prerequisite in ["$(VENV)/.build-tools", "arm64-target"] {
        assert!(head.split_whitespace().any(|p| p == prerequisite), "{head}");
    }
    let recipe: Vec<&str> = target.take_while(|l| l.starts_with('\t')).collect();
    let sam_build = recipe.iter().find(|l| l.contains("sam build")).unwrap();
    assert!(
        sam_build.contains("$(VENV)/bin"),
        "cargo-lambda on PATH: {sam_build}"
    );
    // SAM copies the bootstrap from ./target/lambda: under another CARGO_TARGET_DIR it would
    // find none, or a stale one.
    assert!(sam_build.contains("env -u CARGO_TARGET_DIR"), "{sam_build}");
    assert!(
        sam_build.contains("--beta-features"),
        "rust-cargolambda is a SAM preview: {sam_build}"
    );
    let sam_deploy = recipe.iter().find(|l| l.contains("sam deploy")).unwrap();
    assert!(
        sam_deploy.contains("--capabilities CAPABILITY_IAM"),
        "{sam_deploy}"
    );
    let stack = sam_deploy
        .split_whitespace()
        .skip_while(|w| *w != "--stack-name")
        .nth(1)
        .expect("a --stack-name");

    let readme = read("README.md");
    assert!(readme.contains(&format!("--stack-name {stack} ")));
    // The SAM example holds the function too: deployed under the same name, it would replace
    // the stack every other one imports from.
    let sam_example = read("examples/sam/template.yaml");
    let example_stack = sam_example
        .split_whitespace()
        .skip_while(|w| *w != "--stack-name")
        .nth(1)
        .expect("the SAM example's deploy command names its stack");
    assert_ne!(example_stack, stack);
    assert!(readme.contains(&format!("!ImportValue {stack}-ServiceToken")));
    let mut importing = 0;
    let dir = format!("{}/examples/cloudformation", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let example = YamlLoader::load_from_str(&text).unwrap().remove(0);
        let default = &example["Parameters"]["ProviderStackName"]["Default"];
        if !default.is_badvalue() {
            assert_eq!(default.as_str(), Some(stack), "{}", path.display());
            importing += 1;
        }
    }
    assert!(
        importing >= 2,
        "the examples that import the ServiceToken: {importing}"
    );
}
