//! Turning a sample CloudFormation event file into the event of one demo
//! step: its own response URL and request id, our function as the service
//! token, and the physical id CloudFormation would carry over.

use serde_json::Value;

use crate::runtime_api::FUNCTION_ARN;

/// Fills in the fields CloudFormation would set for this particular request.
pub fn prepare(
    mut event: Value,
    response_url: &str,
    request_id: &str,
    physical_id: Option<&str>,
) -> Result<Value, String> {
    let object = event
        .as_object_mut()
        .ok_or_else(|| "the event is not a JSON object".to_string())?;
    object.insert("ResponseURL".into(), Value::from(response_url));
    object.insert("RequestId".into(), Value::from(request_id));
    // Our own ARN as service token: the function answers CloudFormation directly.
    object.insert("ServiceToken".into(), Value::from(FUNCTION_ARN));
    for properties in ["ResourceProperties", "OldResourceProperties"] {
        if let Some(props) = object.get_mut(properties).and_then(Value::as_object_mut) {
            props.insert("ServiceToken".into(), Value::from(FUNCTION_ARN));
        }
    }
    if let Some(physical_id) = physical_id {
        object.insert("PhysicalResourceId".into(), Value::from(physical_id));
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_in_the_per_request_fields() {
        let sample = json!({
            "RequestType": "Update",
            "ResponseURL": "https://example.com/old",
            "RequestId": "old",
            "ServiceToken": "arn:aws:lambda:us-east-1:1:function:x",
            "PhysicalResourceId": "old-id",
            "ResourceProperties": {"ServiceToken": "x", "ClusterName": "prod"},
            "OldResourceProperties": {"ServiceToken": "x"}
        });
        let e = prepare(
            sample,
            "http://127.0.0.1:1/bucket/k?sig",
            "req-1",
            Some("new-id"),
        )
        .unwrap();
        assert_eq!(e["ResponseURL"], "http://127.0.0.1:1/bucket/k?sig");
        assert_eq!(e["RequestId"], "req-1");
        assert_eq!(e["ServiceToken"], FUNCTION_ARN);
        assert_eq!(e["ResourceProperties"]["ServiceToken"], FUNCTION_ARN);
        assert_eq!(e["ResourceProperties"]["ClusterName"], "prod");
        assert_eq!(e["OldResourceProperties"]["ServiceToken"], FUNCTION_ARN);
        assert_eq!(e["PhysicalResourceId"], "new-id");
    }

    #[test]
    fn a_create_keeps_having_no_physical_id() {
        let e = prepare(json!({"RequestType": "Create"}), "u", "r", None).unwrap();
        assert!(e.get("PhysicalResourceId").is_none());
        assert!(prepare(json!([1]), "u", "r", None).is_err());
    }
}
