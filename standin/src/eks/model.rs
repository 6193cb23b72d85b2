//! The data the EKS stand-in keeps and the JSON shapes it answers with.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The account every resource of the stand-in belongs to.
pub const ACCOUNT_ID: &str = "111122223333";

/// An EKS Pod Identity association as the stand-in stores it. Serialises to
/// the `PodIdentityAssociation` shape of the EKS API (the region is not part
/// of that shape: it is in the ARN).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Association {
    /// The region the association lives in.
    #[serde(skip)]
    pub region: String,
    /// The cluster the association belongs to.
    pub cluster_name: String,
    /// Kubernetes namespace.
    pub namespace: String,
    /// Kubernetes service account.
    pub service_account: String,
    /// The IAM role pods assume first.
    pub role_arn: String,
    /// `arn:{partition}:eks:{region}:{account}:podidentityassociation/{cluster}/{id}`.
    pub association_arn: String,
    /// `a-` and 17 of `[a-z0-9]`.
    pub association_id: String,
    /// Tags on the association (`{}` when none).
    pub tags: BTreeMap<String, String>,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: f64,
    /// Last modification time, seconds since the Unix epoch.
    pub modified_at: f64,
    /// Whether EKS leaves session tags off the role session.
    pub disable_session_tags: bool,
    /// The role assumed with the first role's credentials, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_role_arn: Option<String>,
    /// The `sts:ExternalId` for the target role's trust policy; present exactly
    /// when a target role is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Session policy (JSON text), only with `disable_session_tags`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

impl Association {
    /// The `PodIdentityAssociationSummary` shape used by List.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "clusterName": self.cluster_name,
            "namespace": self.namespace,
            "serviceAccount": self.service_account,
            "associationArn": self.association_arn,
            "associationId": self.association_id,
        })
    }
}

/// An association for a test to place directly in the stand-in's state,
/// bypassing validation, as if something other than the function made it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AssociationSpec {
    /// Region.
    pub region: String,
    /// Cluster name.
    pub cluster_name: String,
    /// Kubernetes namespace.
    pub namespace: String,
    /// Kubernetes service account.
    pub service_account: String,
    /// IAM role ARN.
    pub role_arn: String,
    /// Optional target role ARN (an external id is generated for it).
    pub target_role_arn: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// `disableSessionTags`.
    pub disable_session_tags: bool,
    /// Session policy.
    pub policy: Option<String>,
}

impl AssociationSpec {
    /// The required parts; optional fields start empty.
    pub fn new(
        region: &str,
        cluster_name: &str,
        namespace: &str,
        service_account: &str,
        role_arn: &str,
    ) -> Self {
        Self {
            region: region.to_string(),
            cluster_name: cluster_name.to_string(),
            namespace: namespace.to_string(),
            service_account: service_account.to_string(),
            role_arn: role_arn.to_string(),
            ..Self::default()
        }
    }
}

/// One EKS API call the stand-in received, for tests to inspect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EksCall {
    /// API operation name, e.g. `CreatePodIdentityAssociation`.
    pub operation: String,
    /// The region the request was signed for (for tag operations the ARN's
    /// region decides which association is meant; this is still the signing region).
    pub region: String,
    /// Cluster named by the request, if any.
    pub cluster: Option<String>,
    /// Association id named by the request, if any.
    pub association_id: Option<String>,
    /// HTTP status answered; `None` while in progress or when the connection
    /// was reset by an injected fault.
    pub status: Option<u16>,
    /// The request's `x-amz-security-token`: the session token of temporary credentials,
    /// which EKS refuses a request signed with such credentials without.
    pub security_token: Option<String>,
}

/// Body of CreatePodIdentityAssociation.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInput {
    /// Required.
    pub namespace: Option<String>,
    /// Required.
    pub service_account: Option<String>,
    /// Required.
    pub role_arn: Option<String>,
    /// Idempotency token.
    pub client_request_token: Option<String>,
    /// Initial tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// Defaults to false.
    pub disable_session_tags: Option<bool>,
    /// Optional target role.
    pub target_role_arn: Option<String>,
    /// Optional session policy.
    pub policy: Option<String>,
}

/// Body of UpdatePodIdentityAssociation; an absent field stays unchanged.
/// `clientRequestToken` is accepted and ignored, as unknown fields are:
/// applying the same update twice has the same result anyway.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInput {
    /// New role.
    pub role_arn: Option<String>,
    /// New target role; `""` removes it.
    pub target_role_arn: Option<String>,
    /// New `disableSessionTags`.
    pub disable_session_tags: Option<bool>,
    /// New session policy; `""` removes it.
    pub policy: Option<String>,
}

/// Body of TagResource.
#[derive(Debug, Default, Deserialize)]
pub struct TagInput {
    /// Tags to add or overwrite.
    pub tags: Option<BTreeMap<String, String>>,
}

/// Query of ListPodIdentityAssociations.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListInput {
    /// Only associations in this namespace.
    pub namespace: Option<String>,
    /// Only associations of this service account.
    pub service_account: Option<String>,
    /// Page size as sent (validated by the store).
    pub max_results: Option<String>,
    /// Continuation token from a previous page.
    pub next_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_fields_are_omitted_and_tags_always_present() {
        let a = Association {
            region: "us-east-1".into(),
            cluster_name: "c".into(),
            namespace: "ns".into(),
            service_account: "sa".into(),
            role_arn: "arn:aws:iam::111122223333:role/r".into(),
            association_arn: "arn".into(),
            association_id: "a-0".into(),
            tags: BTreeMap::new(),
            created_at: 1.5,
            modified_at: 2.0,
            disable_session_tags: false,
            target_role_arn: None,
            external_id: None,
            policy: None,
        };
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["tags"], serde_json::json!({}));
        assert_eq!(v["disableSessionTags"], false);
        assert_eq!(v["createdAt"], 1.5);
        for absent in [
            "targetRoleArn",
            "externalId",
            "policy",
            "ownerArn",
            "region",
        ] {
            assert!(v.get(absent).is_none(), "{absent} should be absent: {v}");
        }
    }
}
