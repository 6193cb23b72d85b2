//! The state of the EKS stand-in and the rules of each Pod Identity
//! operation, independent of HTTP so they can be tested directly.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::error::EksError;
use super::model::{Association, AssociationSpec, CreateInput, EksCall, ListInput, UpdateInput};
use super::validate::{
    association_arn, check_policy, check_role_arn, parse_association_arn, tag_problem, MAX_TAGS,
};
use crate::ids::IdGen;

/// EKS allows this many associations per cluster.
const MAX_PER_CLUSTER: usize = 5000;

/// Page size of List when the caller gives none.
const DEFAULT_PAGE: usize = 100;

/// An association that was deleted, remembered for `ConflictAfterDelete`.
#[derive(Debug)]
struct Tombstone {
    region: String,
    cluster: String,
    namespace: String,
    service_account: String,
    id: String,
    deleted_at: Instant,
}

/// Associations, idempotency tokens, missing clusters and the call log.
#[derive(Debug, Default)]
pub struct EksStore {
    // Insertion order is creation order, which is the order List returns.
    associations: Vec<Association>,
    tokens: HashMap<(String, String, String), String>,
    tombstones: Vec<Tombstone>,
    missing_clusters: HashSet<String>,
    calls: Vec<EksCall>,
    /// When set, List cuts its pages from all of a cluster's associations, at most this
    /// many, before the namespace and service-account filters apply (see
    /// [`EksStore::page_before_filtering`]).
    pages_before_filters: Option<usize>,
    /// When set, deleted associations, by region, cluster and id, which a repeated Create
    /// token still answers with (see [`EksStore::keep_tokens_of_deleted`]).
    deleted: Option<HashMap<(String, String, String), Association>>,
}

/// Seconds since the Unix epoch with millisecond precision, as EKS reports times.
fn epoch_seconds() -> f64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    ms as f64 / 1000.0
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

impl EksStore {
    /// All associations, oldest first.
    pub fn associations(&self) -> &[Association] {
        &self.associations
    }

    /// Makes every operation on `cluster` (in any region) fail with
    /// ResourceNotFoundException.
    pub fn mark_cluster_missing(&mut self, cluster: &str) {
        self.missing_clusters.insert(cluster.to_string());
    }

    /// Undoes [`mark_cluster_missing`](Self::mark_cluster_missing).
    pub fn mark_cluster_present(&mut self, cluster: &str) {
        self.missing_clusters.remove(cluster);
    }

    /// From now on, List pages as a service that filters each page after cutting it does
    /// (EC2's Describe calls do): pages of at most `size` of the cluster's associations,
    /// then filtered, so that a page can come back empty with a token for the next. EKS's
    /// documentation does not say which it does; a client that follows the token finds the
    /// association either way.
    pub fn page_before_filtering(&mut self, size: usize) {
        self.pages_before_filters = Some(size.max(1));
    }

    /// From now on, a Create whose token made an association that has since been deleted
    /// answers with that association as it was, rather than creating another: an
    /// idempotency record that outlives its resource, as many AWS APIs keep one. EKS's
    /// documentation does not say which it does; by default the token is forgotten with the
    /// association.
    pub fn keep_tokens_of_deleted(&mut self) {
        self.deleted.get_or_insert_with(HashMap::new);
    }

    /// Appends to the call log; returns the entry's index for [`finish_call`](Self::finish_call).
    pub fn log_call(&mut self, call: EksCall) -> usize {
        self.calls.push(call);
        self.calls.len() - 1
    }

    /// Records the status a logged call was answered with.
    pub fn finish_call(&mut self, index: usize, status: Option<u16>) {
        if let Some(call) = self.calls.get_mut(index) {
            call.status = status;
        }
    }

    /// The call log, oldest first.
    pub fn calls(&self) -> &[EksCall] {
        &self.calls
    }

    /// Empties the call log.
    pub fn clear_calls(&mut self) {
        self.calls.clear();
    }

    fn check_cluster(&self, cluster: &str) -> Result<(), EksError> {
        if self.missing_clusters.contains(cluster) {
            Err(EksError::cluster_not_found(cluster))
        } else {
            Ok(())
        }
    }

    fn position(&self, region: &str, cluster: &str, id: &str) -> Option<usize> {
        self.associations
            .iter()
            .position(|a| a.region == region && a.cluster_name == cluster && a.association_id == id)
    }

    fn find_triple(
        &self,
        region: &str,
        cluster: &str,
        namespace: &str,
        sa: &str,
    ) -> Option<&Association> {
        self.associations.iter().find(|a| {
            a.region == region
                && a.cluster_name == cluster
                && a.namespace == namespace
                && a.service_account == sa
        })
    }

    /// Places an association without any of the API's checks; refuses (and
    /// returns the existing one) if its service account already has one.
    pub fn insert(
        &mut self,
        spec: AssociationSpec,
        ids: &IdGen,
    ) -> Result<Association, Box<Association>> {
        if let Some(existing) = self.find_triple(
            &spec.region,
            &spec.cluster_name,
            &spec.namespace,
            &spec.service_account,
        ) {
            return Err(Box::new(existing.clone()));
        }
        let id = ids.association_id();
        // Each later than the last, as EKS's are for creations further apart than these: a
        // client may order associations by it.
        let now = self
            .associations
            .iter()
            .map(|a| a.created_at + 0.001)
            .fold(epoch_seconds(), f64::max);
        let association = Association {
            association_arn: association_arn(&spec.region, &spec.cluster_name, &id),
            association_id: id,
            external_id: spec.target_role_arn.as_ref().map(|_| ids.uuid()),
            region: spec.region,
            cluster_name: spec.cluster_name,
            namespace: spec.namespace,
            service_account: spec.service_account,
            role_arn: spec.role_arn,
            tags: spec.tags,
            created_at: now,
            modified_at: now,
            disable_session_tags: spec.disable_session_tags,
            target_role_arn: spec.target_role_arn,
            policy: spec.policy,
        };
        self.associations.push(association.clone());
        Ok(association)
    }

    /// CreatePodIdentityAssociation. `conflict_after_delete` is asked, with
    /// the time since the triple's association was deleted, whether an
    /// injected fault turns this create into a 409.
    pub fn create(
        &mut self,
        region: &str,
        cluster: &str,
        input: CreateInput,
        ids: &IdGen,
        conflict_after_delete: impl FnOnce(Duration) -> bool,
    ) -> Result<Association, EksError> {
        let required = |name: &str, value: Option<String>| {
            non_empty(value)
                .ok_or_else(|| EksError::invalid_parameter(format!("{name} is required.")))
        };
        let namespace = required("namespace", input.namespace)?;
        let service_account = required("serviceAccount", input.service_account)?;
        let role_arn = required("roleArn", input.role_arn)?;
        self.check_cluster(cluster)?;
        check_role_arn("roleArn", &role_arn)?;
        let target_role_arn = non_empty(input.target_role_arn);
        if let Some(target) = &target_role_arn {
            check_role_arn("targetRoleArn", target)?;
        }
        let disable_session_tags = input.disable_session_tags.unwrap_or(false);
        let policy = non_empty(input.policy);
        if let Some(policy) = &policy {
            if !disable_session_tags {
                return Err(EksError::invalid_parameter(
                    "policy can only be set when disableSessionTags is true.",
                ));
            }
            check_policy(policy)?;
        }
        let tags = input.tags.unwrap_or_default();
        if let Some(problem) = tag_problem(&tags) {
            return Err(EksError::invalid_parameter(problem));
        }

        let token = non_empty(input.client_request_token);
        if let Some(token) = &token {
            let key = (region.to_string(), cluster.to_string(), token.clone());
            if let Some(id) = self.tokens.get(&key) {
                if let Some(i) = self.position(region, cluster, id) {
                    return Ok(self.associations[i].clone());
                }
                let deleted = (region.to_string(), cluster.to_string(), id.clone());
                if let Some(gone) = self.deleted.as_ref().and_then(|d| d.get(&deleted)) {
                    return Ok(gone.clone());
                }
            }
        }
        if let Some(existing) = self.find_triple(region, cluster, &namespace, &service_account) {
            return Err(EksError::already_exists(&existing.association_id));
        }
        let recently_deleted = self.tombstones.iter().rev().find(|t| {
            t.region == region
                && t.cluster == cluster
                && t.namespace == namespace
                && t.service_account == service_account
        });
        if let Some(tombstone) = recently_deleted {
            if conflict_after_delete(tombstone.deleted_at.elapsed()) {
                return Err(EksError::already_exists(&tombstone.id));
            }
        }
        let in_cluster = self
            .associations
            .iter()
            .filter(|a| a.region == region && a.cluster_name == cluster)
            .count();
        if in_cluster >= MAX_PER_CLUSTER {
            return Err(EksError::limit_exceeded(format!(
                "Cluster {cluster} already has the maximum of {MAX_PER_CLUSTER} Pod Identity associations."
            )));
        }

        let spec = AssociationSpec {
            region: region.to_string(),
            cluster_name: cluster.to_string(),
            namespace,
            service_account,
            role_arn,
            target_role_arn,
            tags,
            disable_session_tags,
            policy,
        };
        // The triple was checked to be free above, so insert cannot refuse.
        let association = self.insert(spec, ids).unwrap_or_else(|existing| *existing);
        if let Some(token) = token {
            self.tokens.insert(
                (region.to_string(), cluster.to_string(), token),
                association.association_id.clone(),
            );
        }
        Ok(association)
    }

    /// DescribePodIdentityAssociation.
    pub fn describe(&self, region: &str, cluster: &str, id: &str) -> Result<Association, EksError> {
        self.check_cluster(cluster)?;
        self.position(region, cluster, id)
            .map(|i| self.associations[i].clone())
            .ok_or_else(|| EksError::association_not_found(id))
    }

    /// UpdatePodIdentityAssociation: all-or-nothing.
    pub fn update(
        &mut self,
        region: &str,
        cluster: &str,
        id: &str,
        input: UpdateInput,
        ids: &IdGen,
    ) -> Result<Association, EksError> {
        self.check_cluster(cluster)?;
        let index = self
            .position(region, cluster, id)
            .ok_or_else(|| EksError::association_not_found(id))?;
        // The API's rule: "You must change at least one of these in an update" (the role, the
        // target role, disableSessionTags); a policy alone is not among them. Read as "name":
        // whether EKS refuses one named with its current value is not known.
        if input.role_arn.is_none()
            && input.target_role_arn.is_none()
            && input.disable_session_tags.is_none()
        {
            return Err(EksError::invalid_parameter(
                "An update must change at least one of roleArn, targetRoleArn or disableSessionTags.",
            ));
        }
        let mut updated = self.associations[index].clone();
        if let Some(role_arn) = input.role_arn {
            check_role_arn("roleArn", &role_arn)?;
            updated.role_arn = role_arn;
        }
        match input.target_role_arn.as_deref() {
            None => {}
            Some("") => {
                updated.target_role_arn = None;
                updated.external_id = None;
            }
            Some(target) => {
                check_role_arn("targetRoleArn", target)?;
                // A new target needs a new external id; the same target keeps its trust policy valid.
                if updated.target_role_arn.as_deref() != Some(target) {
                    updated.target_role_arn = Some(target.to_string());
                    updated.external_id = Some(ids.uuid());
                }
            }
        }
        if let Some(disable) = input.disable_session_tags {
            updated.disable_session_tags = disable;
        }
        if let Some(policy) = input.policy {
            updated.policy = non_empty(Some(policy));
        }
        if let Some(policy) = &updated.policy {
            if !updated.disable_session_tags {
                return Err(EksError::invalid_parameter(
                    "policy can only be set when disableSessionTags is true.",
                ));
            }
            check_policy(policy)?;
        }
        updated.modified_at = epoch_seconds();
        self.associations[index] = updated.clone();
        Ok(updated)
    }

    /// DeletePodIdentityAssociation: returns what was deleted.
    pub fn delete(
        &mut self,
        region: &str,
        cluster: &str,
        id: &str,
    ) -> Result<Association, EksError> {
        self.check_cluster(cluster)?;
        let index = self
            .position(region, cluster, id)
            .ok_or_else(|| EksError::association_not_found(id))?;
        let removed = self.associations.remove(index);
        match &mut self.deleted {
            Some(deleted) => {
                let key = (region.to_string(), cluster.to_string(), id.to_string());
                deleted.insert(key, removed.clone());
            }
            None => self.tokens.retain(|_, v| v != id),
        }
        self.tombstones.push(Tombstone {
            region: removed.region.clone(),
            cluster: removed.cluster_name.clone(),
            namespace: removed.namespace.clone(),
            service_account: removed.service_account.clone(),
            id: removed.association_id.clone(),
            deleted_at: Instant::now(),
        });
        Ok(removed)
    }

    /// ListPodIdentityAssociations: one page of summaries and the token for the next.
    pub fn list(
        &self,
        region: &str,
        cluster: &str,
        input: &ListInput,
    ) -> Result<(Vec<serde_json::Value>, Option<String>), EksError> {
        self.check_cluster(cluster)?;
        let page = match &input.max_results {
            None => DEFAULT_PAGE,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| {
                    EksError::invalid_parameter("maxResults must be between 1 and 100.")
                })?,
        };
        let start = match &input.next_token {
            None => 0,
            Some(token) => token
                .parse::<usize>()
                .map_err(|_| EksError::invalid_parameter("The nextToken is not valid."))?,
        };
        let in_cluster = self
            .associations
            .iter()
            .filter(|a| a.region == region && a.cluster_name == cluster);
        let wanted = |a: &Association| {
            input.namespace.as_ref().is_none_or(|ns| &a.namespace == ns)
                && input
                    .service_account
                    .as_ref()
                    .is_none_or(|sa| &a.service_account == sa)
        };
        let (listed, page): (Vec<&Association>, usize) = match self.pages_before_filters {
            None => (in_cluster.filter(|a| wanted(a)).collect(), page),
            Some(size) => (in_cluster.collect(), page.min(size)),
        };
        let summaries = listed
            .iter()
            .skip(start)
            .take(page)
            .filter(|a| wanted(a))
            .map(|a| a.summary())
            .collect();
        let next = (start + page < listed.len()).then(|| (start + page).to_string());
        Ok((summaries, next))
    }

    /// Makes the association `arn` `seconds` older, as if created that much earlier (it keeps
    /// its place in List's order). False if there is no such association.
    pub fn backdate(&mut self, arn: &str, seconds: f64) -> bool {
        match self.by_arn(arn) {
            Ok(association) => {
                association.created_at -= seconds;
                true
            }
            Err(_) => false,
        }
    }

    fn by_arn(&mut self, arn: &str) -> Result<&mut Association, EksError> {
        let not_found = || EksError::not_found(format!("Resource not found: {arn}"));
        let parsed = parse_association_arn(arn).ok_or_else(not_found)?;
        let index = self
            .position(&parsed.region, &parsed.cluster, &parsed.id)
            .ok_or_else(not_found)?;
        Ok(&mut self.associations[index])
    }

    /// TagResource: adds or overwrites tags.
    pub fn tag(
        &mut self,
        arn: &str,
        tags: Option<BTreeMap<String, String>>,
    ) -> Result<(), EksError> {
        let association = self.by_arn(arn)?;
        let tags = tags.ok_or_else(|| EksError::bad_request("tags is required."))?;
        if let Some(problem) = tag_problem(&tags) {
            return Err(EksError::bad_request(problem));
        }
        // Only keys new to the resource count against the limit.
        let new_keys = tags
            .keys()
            .filter(|k| !association.tags.contains_key(*k))
            .count();
        if association.tags.len() + new_keys > MAX_TAGS {
            return Err(EksError::bad_request(format!(
                "A resource can have at most {MAX_TAGS} tags."
            )));
        }
        association.tags.extend(tags);
        Ok(())
    }

    /// UntagResource: removes the named keys (absent keys are ignored, as in EKS).
    pub fn untag(&mut self, arn: &str, keys: &[String]) -> Result<(), EksError> {
        let association = self.by_arn(arn)?;
        if keys.is_empty() {
            return Err(EksError::bad_request("tagKeys is required."));
        }
        for key in keys {
            association.tags.remove(key);
        }
        Ok(())
    }

    /// ListTagsForResource.
    pub fn list_tags(&mut self, arn: &str) -> Result<BTreeMap<String, String>, EksError> {
        Ok(self.by_arn(arn)?.tags.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::111122223333:role/app";
    const TARGET: &str = "arn:aws:iam::444455556666:role/target";

    fn input(ns: &str, sa: &str) -> CreateInput {
        CreateInput {
            namespace: Some(ns.into()),
            service_account: Some(sa.into()),
            role_arn: Some(ROLE.into()),
            ..CreateInput::default()
        }
    }

    fn create(store: &mut EksStore, ids: &IdGen, i: CreateInput) -> Result<Association, EksError> {
        store.create("us-west-2", "c1", i, ids, |_| false)
    }

    #[test]
    fn create_builds_a_complete_association() {
        let (mut s, ids) = (EksStore::default(), IdGen::new());
        let mut i = input("ns", "sa");
        i.target_role_arn = Some(TARGET.into());
        i.tags = Some([("team".to_string(), "x".to_string())].into());
        let a = create(&mut s, &ids, i).unwrap();
        assert!(crate::ids::is_association_id(&a.association_id));
        assert_eq!(
            a.association_arn,
            format!(
                "arn:aws:eks:us-west-2:111122223333:podidentityassociation/c1/{}",
                a.association_id
            )
        );
        assert!(crate::ids::is_uuid(a.external_id.as_deref().unwrap()));
        assert_eq!(a.tags.get("team").map(String::as_str), Some("x"));
        assert!(!a.disable_session_tags);
        assert_eq!(s.associations().len(), 1);
    }

    #[test]
    fn create_requires_fields_and_names_them() {
        let (mut s, ids) = (EksStore::default(), IdGen::new());
        for (field, mut i) in [
            ("namespace", input("", "sa")),
            ("serviceAccount", input("ns", "")),
            ("roleArn", input("ns", "sa")),
        ] {
            if field == "roleArn" {
                i.role_arn = None;
            }
            let e = create(&mut s, &ids, i).unwrap_err();
            assert_eq!(e.error_type, "InvalidParameterException");
            assert!(e.message.contains(field), "{}", e.message);
        }
        let mut bad_target = input("ns", "sa");
        bad_target.target_role_arn = Some("arn:aws:iam::1:role/x".into());
        assert_eq!(create(&mut s, &ids, bad_target).unwrap_err().status, 400);
        assert!(s.associations().is_empty());
    }

    #[test]
    fn policy_needs_disabled_session_tags() {
        let (mut s, ids) = (EksStore::default(), IdGen::new());
        let mut i = input("ns", "sa");
        i.policy = Some("{}".into());
        assert_eq!(
            create(&mut s, &ids, i).unwrap_err().error_type,
            "InvalidParameterException"
        );
        let mut i = input("ns", "sa");
        i.policy = Some("{}".into());
        i.disable_session_tags = Some(true);
        assert_eq!(
            create(&mut s, &ids, i).unwrap().policy.as_deref(),
            Some("{}")
        );
    }

    #[test]
    fn duplicates_conflict_but_tokens_are_idempotent() {
        let (mut s, ids) = (EksStore::default(), IdGen::new());
        let mut i = input("ns", "sa");
        i.client_request_token = Some("tok".into());
        let first = create(&mut s, &ids, i).unwrap();
        let mut again = input("ns", "sa");
        again.client_request_token = Some("tok".into());
        assert_eq!(create(&mut s, &ids, again).unwrap(), first);
        let e = create(&mut s, &ids, input("ns", "sa")).unwrap_err();
        assert_eq!(
            (e.status, e.error_type.as_str()),
            (409, "ResourceInUseException")
        );
        assert_eq!(
            e.message,
            format!("Association already exists: {}", first.association_id)
        );
        // Same triple in another region or cluster is a different association.
        assert!(s
            .create("eu-west-1", "c1", input("ns", "sa"), &ids, |_| false)
            .is_ok());
        assert!(s
            .create("us-west-2", "c2", input("ns", "sa"), &ids, |_| false)
            .is_ok());
        assert_eq!(s.associations().len(), 3);
    }

    #[test]
    fn a_token_whose_association_was_deleted_creates_anew() {
        let (mut s, ids) = (EksStore::default(), IdGen::new());
        let mut i = input("ns", "sa");
        i.client_request_token = Some("tok".into());
        let first = create(&mut s, &ids, i).unwrap();
        s.delete("us-west-2", "c1", &first.association_id).unwrap();
        let mut again = input("ns", "sa");
        again.client_request_token = Some("tok".into());
        let second = create(&mut s, &ids, again).unwrap();
        assert_ne!(second.association_id, first.association_id);

        // Or, kept past the delete, the token answers with what it made, and makes nothing.
        s.keep_tokens_of_deleted();
        s.delete("us-west-2", "c1", &second.association_id).unwrap();
        let mut repeat = input("ns", "sa");
        repeat.client_request_token = Some("tok".into());
        let replayed = create(&mut s, &ids, repeat).unwrap();
        assert_eq!(replayed, second);
        assert!(s.associations().is_empty());
    }

    #[test]
    fn conflict_after_delete_reports_the_deleted_id() {
        let (mut s, ids) = (EksStore::default(), IdGen::new());
        let first = create(&mut s, &ids, input("ns", "sa")).unwrap();
        s.delete("us-west-2", "c1", &first.association_id).unwrap();
        let e = s
            .create("us-west-2", "c1", input("ns", "sa"), &ids, |since| {
                since < Duration::from_secs(5)
            })
            .unwrap_err();
        assert_eq!(e.status, 409);
        assert!(e.message.ends_with(&first.association_id));
        assert!(create(&mut s, &ids, input("ns", "sa")).is_ok());
    }

    #[test]
    fn update_changes_only_what_is_given() {
        let (mut s, ids) = (EksStore::default(), IdGen::new());
        let a = create(&mut s, &ids, input("ns", "sa")).unwrap();
        let id = a.association_id.clone();
        let up = |t: Option<&str>| UpdateInput {
            target_role_arn: t.map(String::from),
            ..UpdateInput::default()
        };
        let with_target = s
            .update("us-west-2", "c1", &id, up(Some(TARGET)), &ids)
            .unwrap();
        let external = with_target.external_id.clone().unwrap();
        assert_eq!(with_target.role_arn, ROLE);
        let same = s
            .update("us-west-2", "c1", &id, up(Some(TARGET)), &ids)
            .unwrap();
        assert_eq!(same.external_id.as_deref(), Some(external.as_str()));
        let other = "arn:aws:iam::444455556666:role/other";
        let changed = s
            .update("us-west-2", "c1", &id, up(Some(other)), &ids)
            .unwrap();
        assert_ne!(changed.external_id.as_deref(), Some(external.as_str()));
        let nothing = s
            .update("us-west-2", "c1", &id, up(None), &ids)
            .unwrap_err();
        assert_eq!(nothing.error_type, "InvalidParameterException");
        assert_eq!(s.associations()[0].target_role_arn.as_deref(), Some(other));
        let policy_alone = UpdateInput {
            policy: Some(String::new()),
            ..UpdateInput::default()
        };
        assert!(s
            .update("us-west-2", "c1", &id, policy_alone, &ids)
            .is_err());
        let cleared = s
            .update("us-west-2", "c1", &id, up(Some("")), &ids)
            .unwrap();
        assert_eq!((cleared.target_role_arn, cleared.external_id), (None, None));
        assert!(s.associations()[0].modified_at >= a.modified_at);
    }

    #[test]
    fn update_is_all_or_nothing() {
        let (mut s, ids) = (EksStore::default(), IdGen::new());
        let a = create(&mut s, &ids, input("ns", "sa")).unwrap();
        let bad = UpdateInput {
            role_arn: Some("arn:aws:iam::111122223333:role/new".into()),
            policy: Some("{}".into()),
            ..UpdateInput::default()
        };
        let e = s
            .update("us-west-2", "c1", &a.association_id, bad, &ids)
            .unwrap_err();
        assert_eq!(e.error_type, "InvalidParameterException");
        assert_eq!(s.associations()[0], a);
        let good = UpdateInput {
            disable_session_tags: Some(true),
            policy: Some("{}".into()),
            ..UpdateInput::default()
        };
        let u = s
            .update("us-west-2", "c1", &a.association_id, good, &ids)
            .unwrap();
        assert_eq!(u.policy.as_deref(), Some("{}"));
        let clear = UpdateInput {
            policy: Some(String::new()),
            disable_session_tags: Some(false),
            ..UpdateInput::default()
        };
        assert_eq!(
            s.update("us-west-2", "c1", &a.association_id, clear, &ids)
                .unwrap()
                .policy,
            None
        );
    }

    #[test]
    fn unknown_ids_and_missing_clusters_are_not_found() {
        let (mut s, ids) = (EksStore::default(), IdGen::new());
        let e = s
            .describe("us-west-2", "c1", "a-00000000000000000")
            .unwrap_err();
        assert_eq!(
            e.message,
            "No Pod Identity Association found with id a-00000000000000000"
        );
        assert_eq!(s.delete("us-west-2", "c1", "a-x").unwrap_err().status, 404);
        let a = create(&mut s, &ids, input("ns", "sa")).unwrap();
        // The id is only valid in its own region and cluster.
        assert!(s.describe("eu-west-1", "c1", &a.association_id).is_err());
        assert!(s.describe("us-west-2", "c2", &a.association_id).is_err());
        s.mark_cluster_missing("c1");
        let e = s
            .describe("us-west-2", "c1", &a.association_id)
            .unwrap_err();
        assert_eq!(
            (e.error_type.as_str(), e.message.as_str()),
            (
                "ResourceNotFoundException",
                "No cluster found for name: c1."
            )
        );
        assert_eq!(
            create(&mut s, &ids, input("ns", "sb")).unwrap_err().status,
            404
        );
        s.mark_cluster_present("c1");
        assert!(s.describe("us-west-2", "c1", &a.association_id).is_ok());
    }

    #[test]
    fn list_filters_and_pages() {
        let (mut s, ids) = (EksStore::default(), IdGen::new());
        for n in 0..5 {
            create(&mut s, &ids, input("ns", &format!("sa{n}"))).unwrap();
        }
        create(&mut s, &ids, input("other", "sa0")).unwrap();
        let list = |ns: Option<&str>, max: Option<&str>, token: Option<&str>| {
            let q = ListInput {
                namespace: ns.map(String::from),
                max_results: max.map(String::from),
                next_token: token.map(String::from),
                ..ListInput::default()
            };
            s.list("us-west-2", "c1", &q)
        };
        assert_eq!(list(None, None, None).unwrap().0.len(), 6);
        assert_eq!(list(Some("other"), None, None).unwrap().0.len(), 1);
        let (page1, next) = list(Some("ns"), Some("2"), None).unwrap();
        assert_eq!(page1.len(), 2);
        let (page2, next) = list(Some("ns"), Some("2"), next.as_deref()).unwrap();
        let (page3, next) = list(Some("ns"), Some("2"), next.as_deref()).unwrap();
        assert_eq!((page2.len(), page3.len(), next), (2, 1, None));
        assert_eq!(page1[0]["serviceAccount"], "sa0");
        assert_eq!(page3[0]["serviceAccount"], "sa4");
        assert!(page1[0].get("roleArn").is_none());
        for bad in ["0", "101", "x"] {
            assert_eq!(list(None, Some(bad), None).unwrap_err().status, 400);
        }
        assert_eq!(list(None, None, Some("zz")).unwrap_err().status, 400);
    }

    #[test]
    fn pages_cut_before_filtering_can_be_empty_and_still_go_on() {
        let (mut s, ids) = (EksStore::default(), IdGen::new());
        create(&mut s, &ids, input("other", "sa0")).unwrap();
        create(&mut s, &ids, input("other", "sa1")).unwrap();
        create(&mut s, &ids, input("ns", "sa0")).unwrap();
        s.page_before_filtering(2);
        let q = |token: Option<String>| ListInput {
            namespace: Some("ns".into()),
            next_token: token,
            ..ListInput::default()
        };
        let (page1, next) = s.list("us-west-2", "c1", &q(None)).unwrap();
        assert!(page1.is_empty());
        let (page2, next) = s.list("us-west-2", "c1", &q(next)).unwrap();
        assert_eq!((page2.len(), next), (1, None));
        assert_eq!(page2[0]["namespace"], "ns");
    }

    #[test]
    fn tagging_by_arn() {
        let (mut s, ids) = (EksStore::default(), IdGen::new());
        let a = create(&mut s, &ids, input("ns", "sa")).unwrap();
        let arn = a.association_arn.clone();
        s.tag(
            &arn,
            Some(
                [
                    ("a".to_string(), "1".to_string()),
                    ("b".to_string(), "2".to_string()),
                ]
                .into(),
            ),
        )
        .unwrap();
        s.untag(&arn, &["a".to_string(), "zz".to_string()]).unwrap();
        assert_eq!(
            s.list_tags(&arn).unwrap(),
            [("b".to_string(), "2".to_string())].into()
        );
        assert_eq!(
            s.untag(&arn, &[]).unwrap_err().error_type,
            "BadRequestException"
        );
        assert_eq!(
            s.tag(&arn, None).unwrap_err().error_type,
            "BadRequestException"
        );
        let reserved = Some([("aws:x".to_string(), String::new())].into());
        assert_eq!(
            s.tag(&arn, reserved).unwrap_err().error_type,
            "BadRequestException"
        );
        let elsewhere = arn.replace("us-west-2", "eu-west-1");
        assert_eq!(
            s.list_tags(&elsewhere).unwrap_err().error_type,
            "NotFoundException"
        );
        assert_eq!(s.list_tags("garbage").unwrap_err().status, 404);
        s.delete("us-west-2", "c1", &a.association_id).unwrap();
        assert_eq!(s.list_tags(&arn).unwrap_err().status, 404);
    }

    #[test]
    fn tag_limit_counts_existing_tags() {
        let (mut s, ids) = (EksStore::default(), IdGen::new());
        let mut i = input("ns", "sa");
        i.tags = Some((0..49).map(|n| (format!("k{n}"), String::new())).collect());
        let a = create(&mut s, &ids, i).unwrap();
        let overwrite: BTreeMap<String, String> =
            (0..49).map(|n| (format!("k{n}"), "v".into())).collect();
        s.tag(&a.association_arn, Some(overwrite)).unwrap();
        s.tag(
            &a.association_arn,
            Some([("new".to_string(), String::new())].into()),
        )
        .unwrap();
        let e = s.tag(
            &a.association_arn,
            Some([("one-more".to_string(), String::new())].into()),
        );
        assert_eq!(e.unwrap_err().status, 400);
    }
}
