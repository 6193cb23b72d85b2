//! The CloudFormation response: what goes in it, and the body that fits in 4096 bytes.
//!
//! CloudFormation rejects a body over 4096 bytes and an empty PhysicalResourceId, and
//! `Fn::GetAtt` fails on an attribute that Data lacks; so the Reason is what gets shortened,
//! and every attribute is always present.

use crate::event::Request;
use crate::plan::Association;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// CloudFormation's limit on the response body.
pub const MAX_BODY: usize = 4096;

/// SUCCESS or FAILED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// The event did what it asked.
    Success,
    /// It did not; Reason says why.
    Failed,
}

/// One response to one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    /// SUCCESS or FAILED.
    pub status: Status,
    /// Why it failed (required when FAILED).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The association's ARN; never empty.
    pub physical_resource_id: String,
    /// Copied from the request.
    pub stack_id: String,
    /// Copied from the request.
    pub request_id: String,
    /// Copied from the request.
    pub logical_resource_id: String,
    /// The GetAtt attributes.
    pub data: Map<String, Value>,
}

impl Response {
    /// A response to `request` with the given outcome.
    pub fn new(
        request: &Request,
        status: Status,
        reason: Option<String>,
        physical_id: String,
        data: Map<String, Value>,
    ) -> Response {
        Response {
            status,
            reason,
            physical_resource_id: physical_id,
            stack_id: request.stack_id.clone().unwrap_or_default(),
            request_id: request.request_id.clone().unwrap_or_default(),
            logical_resource_id: request.logical_resource_id.clone().unwrap_or_default(),
            data,
        }
    }

    /// The JSON body, at most [`MAX_BODY`] bytes: the Reason is cut (at a character boundary,
    /// marked with "…") until it fits.
    pub fn body(&self) -> Vec<u8> {
        let full = serialize(self);
        if full.len() <= MAX_BODY {
            return full;
        }
        let Some(reason) = &self.reason else {
            return full;
        };
        let with_reason = |reason: String| {
            let mut shortened = self.clone();
            shortened.reason = Some(reason);
            serialize(&shortened)
        };
        with_reason(cut_to_fit(reason, |cut| {
            with_reason(cut.to_owned()).len() <= MAX_BODY
        }))
    }
}

/// The most of a Reason that the CDK provider framework's response can carry, as JSON text.
///
/// Behind the framework the Reason is our error message with the framework's additions: a
/// line naming the log group and a Node.js stack trace (up to ten frames), next to StackId,
/// RequestId, PhysicalResourceId and LogicalResourceId, which can reach 2 KB between them
/// at their longest. The framework sends it all without shortening, and CloudFormation
/// discards a body over [`MAX_BODY`] bytes ("Response object is too long"), losing the
/// reason.
pub const MAX_PROVIDER_REASON: usize = 2048;

/// The Reason to give the CDK provider framework: cut (at a character boundary, marked with
/// "…") until, escaped as JSON, it is at most [`MAX_PROVIDER_REASON`] bytes.
pub fn provider_reason(reason: &str) -> String {
    let fits = |text: &str| json_len(text) <= MAX_PROVIDER_REASON;
    if fits(reason) {
        return reason.to_owned();
    }
    cut_to_fit(reason, fits)
}

/// The longest prefix of `text`, marked as cut with "…", that `fits`; `text` itself does not.
/// Escaping makes the serialized length differ from the text's, so the caller measures rather
/// than computes. The search starts from a length known not to fit: the whole text (the mark
/// only adds to it), or [`MAX_BODY`] if less, since no longer prefix fits anywhere.
fn cut_to_fit(text: &str, fits: impl Fn(&str) -> bool) -> String {
    let with_prefix = |len: usize| format!("{}…", &text[..text.floor_char_boundary(len)]);
    let (mut fitting, mut too_long) = (0, text.len().min(MAX_BODY));
    while too_long - fitting > 1 {
        let middle = (fitting + too_long) / 2;
        if fits(&with_prefix(middle)) {
            fitting = middle;
        } else {
            too_long = middle;
        }
    }
    with_prefix(fitting)
}

fn json_len(text: &str) -> usize {
    serde_json::to_string(text).map_or(usize::MAX, |json| json.len())
}

/// The GetAtt attributes; every one present, empty where there is no value.
pub fn data(association: Option<&Association>) -> Map<String, Value> {
    let (arn, id, external) = match association {
        Some(a) => (
            a.arn.as_str(),
            a.id.as_str(),
            a.external_id.as_deref().unwrap_or(""),
        ),
        None => ("", "", ""),
    };
    let value = json!({"AssociationArn": arn, "AssociationId": id, "ExternalId": external});
    value.as_object().cloned().unwrap_or_default()
}

fn serialize(response: &Response) -> Vec<u8> {
    // Serializing a struct of strings and maps of JSON values cannot fail.
    serde_json::to_vec(response).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Incoming, Request};

    fn request() -> Request {
        Request::from_incoming(Incoming::Json(json!({
            "RequestType": "Create", "StackId": "s", "RequestId": "r", "LogicalResourceId": "l"
        })))
    }

    #[test]
    fn success_has_every_field_and_attribute() {
        let response = Response::new(&request(), Status::Success, None, "arn".into(), data(None));
        let body: Value = serde_json::from_slice(&response.body()).unwrap();
        assert_eq!(
            body,
            json!({
                "Status": "SUCCESS", "PhysicalResourceId": "arn", "StackId": "s", "RequestId": "r",
                "LogicalResourceId": "l",
                "Data": {"AssociationArn": "", "AssociationId": "", "ExternalId": ""}
            })
        );
    }

    #[test]
    fn long_reasons_are_cut_to_fit() {
        for reason in [
            "x".repeat(10_000),
            "é\"\\\n".repeat(3_000),
            "💥".repeat(5_000),
        ] {
            let response = Response::new(
                &request(),
                Status::Failed,
                Some(reason.clone()),
                "id".into(),
                data(None),
            );
            let body = response.body();
            assert!(body.len() <= MAX_BODY, "{}", body.len());
            assert!(body.len() > MAX_BODY - 64, "cut too much: {}", body.len());
            let parsed: Value = serde_json::from_slice(&body).unwrap();
            let cut = parsed["Reason"].as_str().unwrap();
            assert!(cut.ends_with('…'));
            assert!(reason.starts_with(cut.trim_end_matches('…')));
            assert_eq!(parsed["PhysicalResourceId"], "id");
            assert_eq!(parsed["RequestId"], "r");
        }
    }

    #[test]
    fn provider_reasons_are_cut_to_leave_the_framework_room() {
        for reason in [
            "x".repeat(10_000),
            "é\"\\\n".repeat(3_000),
            "💥".repeat(5_000),
        ] {
            let cut = provider_reason(&reason);
            let escaped = json_len(&cut);
            assert!(escaped <= MAX_PROVIDER_REASON, "{escaped}");
            assert!(
                escaped > MAX_PROVIDER_REASON - 16,
                "cut too much: {escaped}"
            );
            assert!(cut.ends_with('…'));
            assert!(reason.starts_with(cut.trim_end_matches('…')));
        }
        assert_eq!(provider_reason("bad"), "bad");
    }

    /// A cut takes off no more than it must, even when dropping one character is enough: here
    /// the last, escaped as `\u0001`, is six bytes of JSON, and the mark is three.
    #[test]
    fn a_cut_keeps_every_character_that_fits() {
        let kept = "a".repeat(MAX_PROVIDER_REASON - 7);
        let reason = format!("{kept}\u{1}");
        assert_eq!(json_len(&reason), MAX_PROVIDER_REASON + 1);
        assert_eq!(provider_reason(&reason), format!("{kept}…"));
    }

    #[test]
    fn short_reasons_are_untouched() {
        let response = Response::new(
            &request(),
            Status::Failed,
            Some("bad".into()),
            "id".into(),
            data(None),
        );
        let parsed: Value = serde_json::from_slice(&response.body()).unwrap();
        assert_eq!(parsed["Reason"], "bad");
        assert_eq!(parsed["Status"], "FAILED");
    }
}
