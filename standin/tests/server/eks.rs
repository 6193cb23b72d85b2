//! The EKS Pod Identity API over HTTP: paths, status codes, error headers
//! and bodies, regions, the call log.

use serde_json::json;
use standin::wire::percent_encode;
use standin::{AssociationSpec, EksCall, Standin};

use crate::client::{eks, send};

const ROLE: &str = "arn:aws:iam::111122223333:role/app";
const TARGET: &str = "arn:aws:iam::444455556666:role/target";
const BASE: &str = "/clusters/prod/pod-identity-associations";

fn create_body(sa: &str) -> serde_json::Value {
    json!({"namespace": "apps", "serviceAccount": sa, "roleArn": ROLE,
           "clientRequestToken": format!("token-{sa}")})
}

#[tokio::test]
async fn association_lifecycle_over_http() {
    let s = Standin::start().await.unwrap();
    let a = s.addr();
    let mut body = create_body("web");
    body["targetRoleArn"] = json!(TARGET);
    body["tags"] = json!({"team": "platform"});
    let created = eks(a, "us-west-2", "POST", BASE, Some(body)).await;
    assert_eq!(created.status, 200, "{}", created.text());
    assert_eq!(created.header("content-type"), Some("application/json"));
    let assoc = &created.json()["association"];
    let id = assoc["associationId"].as_str().unwrap().to_string();
    assert!(standin::ids::is_association_id(&id));
    assert_eq!(
        assoc["associationArn"],
        format!("arn:aws:eks:us-west-2:111122223333:podidentityassociation/prod/{id}")
    );
    assert_eq!(assoc["clusterName"], "prod");
    assert_eq!(assoc["tags"], json!({"team": "platform"}));
    assert_eq!(assoc["disableSessionTags"], false);
    assert!(standin::ids::is_uuid(assoc["externalId"].as_str().unwrap()));
    assert!(assoc["createdAt"].is_number() && assoc["modifiedAt"].is_number());
    assert!(assoc.get("ownerArn").is_none() && assoc.get("policy").is_none());

    let path = format!("{BASE}/{id}");
    let described = eks(a, "us-west-2", "GET", &path, None).await;
    assert_eq!(described.json()["association"], *assoc);

    let updated = eks(
        a,
        "us-west-2",
        "POST",
        &path,
        Some(json!({"targetRoleArn": "", "clientRequestToken": "x"})),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    let u = &updated.json()["association"];
    assert!(u.get("targetRoleArn").is_none() && u.get("externalId").is_none());
    assert_eq!(u["roleArn"], ROLE);

    let listed = eks(
        a,
        "us-west-2",
        "GET",
        &format!("{BASE}?namespace=apps&maxResults=10"),
        None,
    )
    .await;
    assert_eq!(
        listed.json(),
        json!({"associations": [{
        "clusterName": "prod", "namespace": "apps", "serviceAccount": "web",
        "associationArn": assoc["associationArn"], "associationId": id}]})
    );
    let other_ns = eks(
        a,
        "us-west-2",
        "GET",
        &format!("{BASE}?namespace=other"),
        None,
    )
    .await;
    assert_eq!(other_ns.json(), json!({"associations": []}));
    // Associations are regional.
    let elsewhere = eks(a, "eu-west-1", "GET", BASE, None).await;
    assert_eq!(elsewhere.json(), json!({"associations": []}));

    let deleted = eks(a, "us-west-2", "DELETE", &path, None).await;
    assert_eq!(deleted.json()["association"]["associationId"], id.as_str());
    assert!(s.associations().is_empty());
    let gone = eks(a, "us-west-2", "GET", &path, None).await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.header("x-amzn-errortype"),
        Some("ResourceNotFoundException")
    );
    assert_eq!(
        gone.json(),
        json!({"message": format!("No Pod Identity Association found with id {id}")})
    );
}

#[tokio::test]
async fn errors_carry_the_shape_name_and_a_message() {
    let s = Standin::start().await.unwrap();
    let a = s.addr();
    let first = eks(a, "us-east-1", "POST", BASE, Some(create_body("api"))).await;
    let id = first.json()["association"]["associationId"]
        .as_str()
        .unwrap()
        .to_string();

    // Same token again: the same association, no second one.
    let again = eks(a, "us-east-1", "POST", BASE, Some(create_body("api"))).await;
    assert_eq!(
        (
            again.status,
            again.json()["association"]["associationId"].as_str()
        ),
        (200, Some(id.as_str()))
    );
    let mut other_token = create_body("api");
    other_token["clientRequestToken"] = json!("different");
    let dup = eks(a, "us-east-1", "POST", BASE, Some(other_token)).await;
    assert_eq!(dup.status, 409);
    assert_eq!(
        dup.header("x-amzn-errortype"),
        Some("ResourceInUseException")
    );
    assert_eq!(
        dup.json()["message"],
        format!("Association already exists: {id}")
    );

    let missing = eks(
        a,
        "us-east-1",
        "POST",
        BASE,
        Some(json!({"namespace": "apps", "roleArn": ROLE})),
    )
    .await;
    assert_eq!(
        (missing.status, missing.header("x-amzn-errortype")),
        (400, Some("InvalidParameterException"))
    );
    assert!(missing.json()["message"]
        .as_str()
        .unwrap()
        .contains("serviceAccount"));

    let not_json = crate::client::send(a, "POST", BASE, &[], Some(b"{nope")).await;
    assert_eq!(
        (not_json.status, not_json.header("x-amzn-errortype")),
        (400, Some("InvalidRequestException"))
    );

    let bad_escape = eks(
        a,
        "us-east-1",
        "GET",
        "/clusters/%zz/pod-identity-associations",
        None,
    )
    .await;
    assert_eq!(bad_escape.status, 400);

    s.mark_cluster_missing("prod");
    let no_cluster = eks(a, "us-east-1", "GET", BASE, None).await;
    assert_eq!(no_cluster.status, 404);
    assert_eq!(
        no_cluster.json()["message"],
        "No cluster found for name: prod."
    );

    let unknown = send(a, "GET", "/no/such/route", &[], None).await;
    assert_eq!(
        (unknown.status, unknown.header("x-amzn-errortype")),
        (404, Some("UnknownOperationException"))
    );
}

#[tokio::test]
async fn unsigned_requests_land_in_us_east_1() {
    let s = Standin::start().await.unwrap();
    let body = create_body("x").to_string();
    let r = send(s.addr(), "POST", BASE, &[], Some(body.as_bytes())).await;
    assert_eq!(r.status, 200);
    assert_eq!(s.associations()[0].region, "us-east-1");
    let cn = eks(s.addr(), "cn-north-1", "POST", BASE, Some(create_body("x"))).await;
    assert!(cn.json()["association"]["associationArn"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws-cn:eks:cn-north-1:"));
}

#[tokio::test]
async fn tags_are_addressed_by_the_encoded_arn() {
    let s = Standin::start().await.unwrap();
    let a = s.addr();
    let assoc = s
        .insert_association(AssociationSpec::new(
            "ap-south-1",
            "prod",
            "apps",
            "web",
            ROLE,
        ))
        .unwrap();
    let tags_path = format!("/tags/{}", percent_encode(&assoc.association_arn, false));
    assert!(tags_path.contains("%2F") && tags_path.contains("%3A"));
    // The ARN decides the region, whatever the request was signed for.
    let tagged = eks(
        a,
        "us-east-1",
        "POST",
        &tags_path,
        Some(json!({"tags": {"a": "1", "b": "2"}})),
    )
    .await;
    assert_eq!((tagged.status, tagged.json()), (200, json!({})));
    let untagged = eks(
        a,
        "us-east-1",
        "DELETE",
        &format!("{tags_path}?tagKeys=a&tagKeys=zz"),
        None,
    )
    .await;
    assert_eq!(untagged.status, 200);
    let listed = eks(a, "us-east-1", "GET", &tags_path, None).await;
    assert_eq!(listed.json(), json!({"tags": {"b": "2"}}));
    // Unencoded slashes reach the same resource.
    let raw_slashes = eks(
        a,
        "us-east-1",
        "GET",
        &format!("/tags/{}", assoc.association_arn),
        None,
    )
    .await;
    assert_eq!(raw_slashes.json(), json!({"tags": {"b": "2"}}));

    let no_keys = eks(a, "us-east-1", "DELETE", &tags_path, None).await;
    assert_eq!(
        (no_keys.status, no_keys.header("x-amzn-errortype")),
        (400, Some("BadRequestException"))
    );
    let unknown = format!(
        "/tags/{}",
        percent_encode(&assoc.association_arn.replace("prod", "dev"), false)
    );
    let nf = eks(a, "us-east-1", "GET", &unknown, None).await;
    assert_eq!(
        (nf.status, nf.header("x-amzn-errortype")),
        (404, Some("NotFoundException"))
    );
}

#[tokio::test]
async fn every_call_is_logged_with_its_outcome() {
    let s = Standin::start().await.unwrap();
    let a = s.addr();
    assert!(s.eks_calls().is_empty());
    let created = eks(a, "eu-west-1", "POST", BASE, Some(create_body("w"))).await;
    let id = created.json()["association"]["associationId"]
        .as_str()
        .unwrap()
        .to_string();
    eks(
        a,
        "eu-west-1",
        "GET",
        &format!("{BASE}/a-00000000000000000"),
        None,
    )
    .await;
    assert_eq!(
        s.eks_calls(),
        vec![
            EksCall {
                operation: "CreatePodIdentityAssociation".into(),
                region: "eu-west-1".into(),
                cluster: Some("prod".into()),
                association_id: None,
                status: Some(200),
                security_token: None,
            },
            EksCall {
                operation: "DescribePodIdentityAssociation".into(),
                region: "eu-west-1".into(),
                cluster: Some("prod".into()),
                association_id: Some("a-00000000000000000".into()),
                status: Some(404),
                security_token: None,
            },
        ]
    );
    s.clear_eks_calls();
    let tags = format!(
        "/tags/{}",
        percent_encode(&s.associations()[0].association_arn, false)
    );
    eks(a, "eu-west-1", "GET", &tags, None).await;
    let calls = s.eks_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].operation, "ListTagsForResource");
    assert_eq!(calls[0].association_id.as_deref(), Some(id.as_str()));
}
