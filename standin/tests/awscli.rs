//! Proves the stand-in speaks the EKS wire format with a client written by
//! someone else: the AWS CLI (botocore), which signs requests, encodes URI
//! labels and query strings, and parses answers and errors its own way.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;
use standin::Standin;

const ROLE: &str = "arn:aws:iam::111122223333:role/app-role";
const TARGET: &str = "arn:aws:iam::444455556666:role/target-role";

/// The `aws` executable: `$AWS_CLI`, else the workspace's `.venv`. Missing
/// is a failure, never a skip: this test is the proof of the wire format.
fn aws_cli() -> PathBuf {
    let path = std::env::var_os("AWS_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/aws"));
    assert!(
        path.exists(),
        "the AWS CLI is needed for this test and was not found at {} (set $AWS_CLI to override). \
         Run `make test`, or `make .venv` once, to install it.",
        path.display()
    );
    path
}

struct Cli {
    exe: PathBuf,
    endpoint: String,
    home: PathBuf,
}

struct Run {
    code: i32,
    json: Value,
    stderr: String,
}

impl Cli {
    async fn run(&self, args: &[&str]) -> Run {
        let output = tokio::process::Command::new(&self.exe)
            .args(args)
            .args([
                "--endpoint-url",
                &self.endpoint,
                "--region",
                "eu-west-1",
                "--output",
                "json",
            ])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("AWS_ACCESS_KEY_ID", "AKIDAWSCLITEST")
            .env("AWS_SECRET_ACCESS_KEY", "awscli-test-secret")
            .env("AWS_CONFIG_FILE", self.home.join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_PAGER", "")
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap_or_else(|e| panic!("could not run {}: {e}", self.exe.display()));
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        Run {
            code: output.status.code().unwrap_or(-1),
            json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    async fn ok(&self, args: &[&str]) -> Value {
        let run = self.run(args).await;
        assert_eq!(run.code, 0, "aws {args:?} failed: {}", run.stderr);
        run.json
    }
}

fn is_association_arn_in_eu_west_1(arn: &str) -> bool {
    arn.strip_prefix("arn:aws:eks:eu-west-1:111122223333:podidentityassociation/prod/")
        .is_some_and(standin::ids::is_association_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_drives_the_whole_api() {
    let exe = aws_cli();
    let standin = Standin::start().await.expect("start stand-in");
    let home = std::env::temp_dir().join(format!("standin-awscli-{}", std::process::id()));
    std::fs::create_dir_all(&home).expect("temp home");
    // CLI v1 prints timestamps as received unless told to parse them; parsing
    // them proves the epoch numbers are valid timestamps for botocore.
    std::fs::write(
        home.join("config"),
        "[default]\ncli_timestamp_format = iso8601\n",
    )
    .expect("CLI config");
    let cli = Cli {
        exe,
        endpoint: standin.url(),
        home,
    };

    let created = cli
        .ok(&[
            "eks",
            "create-pod-identity-association",
            "--cluster-name",
            "prod",
            "--namespace",
            "apps",
            "--service-account",
            "web",
            "--role-arn",
            ROLE,
            "--target-role-arn",
            TARGET,
            "--tags",
            "team=platform,env=test",
        ])
        .await;
    let a = &created["association"];
    let arn = a["associationArn"]
        .as_str()
        .expect("associationArn")
        .to_string();
    let id = a["associationId"]
        .as_str()
        .expect("associationId")
        .to_string();
    assert!(is_association_arn_in_eu_west_1(&arn), "{arn}");
    assert!(arn.ends_with(&id));
    assert_eq!(a["targetRoleArn"], TARGET);
    assert!(
        standin::ids::is_uuid(a["externalId"].as_str().unwrap_or_default()),
        "{a}"
    );
    assert_eq!(
        a["tags"],
        serde_json::json!({"team": "platform", "env": "test"})
    );
    assert_eq!(a["disableSessionTags"], false);
    // botocore turned the epoch number into a timestamp.
    assert!(
        a["createdAt"].as_str().is_some_and(|t| t.contains('T')),
        "{}",
        a["createdAt"]
    );

    let described = cli
        .ok(&[
            "eks",
            "describe-pod-identity-association",
            "--cluster-name",
            "prod",
            "--association-id",
            &id,
        ])
        .await;
    assert_eq!(described["association"]["associationArn"], arn.as_str());

    // botocore fills in a fresh clientRequestToken, so the duplicate is a real conflict.
    let duplicate = cli
        .run(&[
            "eks",
            "create-pod-identity-association",
            "--cluster-name",
            "prod",
            "--namespace",
            "apps",
            "--service-account",
            "web",
            "--role-arn",
            ROLE,
        ])
        .await;
    assert!(
        matches!(duplicate.code, 254 | 255),
        "exit {}: {}",
        duplicate.code,
        duplicate.stderr
    );
    assert!(
        duplicate.stderr.contains("ResourceInUseException"),
        "{}",
        duplicate.stderr
    );
    assert!(duplicate.stderr.contains(&id), "{}", duplicate.stderr);

    for sa in ["worker", "batch"] {
        cli.ok(&[
            "eks",
            "create-pod-identity-association",
            "--cluster-name",
            "prod",
            "--namespace",
            "jobs",
            "--service-account",
            sa,
            "--role-arn",
            ROLE,
        ])
        .await;
    }
    let apps = cli
        .ok(&[
            "eks",
            "list-pod-identity-associations",
            "--cluster-name",
            "prod",
            "--namespace",
            "apps",
        ])
        .await;
    let apps = apps["associations"].as_array().expect("associations");
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0]["associationId"], id.as_str());
    assert_eq!(apps[0]["serviceAccount"], "web");
    // Page size 1 makes the CLI follow nextToken through every page: one call each.
    let lists = || {
        standin
            .eks_calls()
            .iter()
            .filter(|call| call.operation == "ListPodIdentityAssociations")
            .count()
    };
    let before = lists();
    let all = cli
        .ok(&[
            "eks",
            "list-pod-identity-associations",
            "--cluster-name",
            "prod",
            "--page-size",
            "1",
        ])
        .await;
    assert_eq!(
        all["associations"].as_array().map(Vec::len),
        Some(3),
        "{all}"
    );
    assert_eq!(lists() - before, 3, "one page per association");

    let updated = cli
        .ok(&[
            "eks",
            "update-pod-identity-association",
            "--cluster-name",
            "prod",
            "--association-id",
            &id,
            "--target-role-arn",
            "",
        ])
        .await;
    let u = &updated["association"];
    assert!(
        u.get("targetRoleArn").is_none() && u.get("externalId").is_none(),
        "{u}"
    );
    assert_eq!(u["roleArn"], ROLE);

    cli.ok(&[
        "eks",
        "tag-resource",
        "--resource-arn",
        &arn,
        "--tags",
        "owner=me",
    ])
    .await;
    let tags = cli
        .ok(&["eks", "list-tags-for-resource", "--resource-arn", &arn])
        .await;
    assert_eq!(
        tags["tags"],
        serde_json::json!({"team": "platform", "env": "test", "owner": "me"})
    );
    cli.ok(&[
        "eks",
        "untag-resource",
        "--resource-arn",
        &arn,
        "--tag-keys",
        "env",
        "owner",
    ])
    .await;
    let tags = cli
        .ok(&["eks", "list-tags-for-resource", "--resource-arn", &arn])
        .await;
    assert_eq!(tags["tags"], serde_json::json!({"team": "platform"}));

    let deleted = cli
        .ok(&[
            "eks",
            "delete-pod-identity-association",
            "--cluster-name",
            "prod",
            "--association-id",
            &id,
        ])
        .await;
    assert_eq!(deleted["association"]["associationArn"], arn.as_str());
    let gone = cli
        .run(&[
            "eks",
            "describe-pod-identity-association",
            "--cluster-name",
            "prod",
            "--association-id",
            &id,
        ])
        .await;
    assert!(matches!(gone.code, 254 | 255), "exit {}", gone.code);
    assert!(
        gone.stderr.contains("ResourceNotFoundException"),
        "{}",
        gone.stderr
    );

    assert!(standin
        .associations()
        .iter()
        .all(|a| a.association_id != id));
    // The CLI signed every request for eu-west-1, and the stand-in read that.
    let calls = standin.eks_calls();
    assert!(calls.len() >= 12, "{calls:?}");
    assert!(calls.iter().all(|c| c.region == "eu-west-1"), "{calls:?}");
    let _ = std::fs::remove_dir_all(&cli.home);
}
