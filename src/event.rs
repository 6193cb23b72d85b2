//! Reading a CloudFormation custom resource request, leniently.
//!
//! A parser that rejects an event means no response is ever sent and the stack hangs for an
//! hour, so nothing here fails: an invocation payload becomes an [`Incoming`] whatever its
//! bytes, and a [`Request`] is read field by field from whatever JSON arrived, with every
//! field optional. Deciding what a missing field means is the handler's job, not the parser's.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::fmt;
use std::time::Duration;

/// The invocation payload as it arrived: valid JSON, or the top-level string fields that could
/// be read before the JSON broke.
///
/// Its `Deserialize` never fails, so the Lambda runtime always hands the event to our handler
/// (a deserialisation error inside the runtime would be answered to Lambda, never to
/// CloudFormation).
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// The payload was valid JSON.
    Json(Value),
    /// The payload was not valid JSON; `salvaged` holds the top-level string fields read
    /// before the error, so a ResponseURL found there can still be answered.
    Malformed {
        /// What the JSON parser said.
        error: String,
        /// Top-level string fields read before the error.
        salvaged: Map<String, Value>,
    },
}

impl Incoming {
    /// Reads a payload from raw bytes, as the Lambda runtime would.
    pub fn from_slice(bytes: &[u8]) -> Incoming {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let incoming = match Incoming::deserialize(&mut deserializer) {
            Ok(incoming) => incoming,
            Err(error) => Incoming::Malformed {
                error: error.to_string(),
                salvaged: Map::new(),
            },
        };
        match (incoming, deserializer.end()) {
            (Incoming::Json(value), Err(error)) => Incoming::Malformed {
                error: error.to_string(),
                salvaged: value.as_object().cloned().unwrap_or_default(),
            },
            (incoming, _) => incoming,
        }
    }
}

impl<'de> Deserialize<'de> for Incoming {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let salvaged = RefCell::new(Map::new());
        match deserializer.deserialize_any(SalvagingVisitor {
            salvaged: &salvaged,
        }) {
            Ok(value) => Ok(Incoming::Json(value)),
            Err(error) => Ok(Incoming::Malformed {
                error: error.to_string(),
                salvaged: salvaged.into_inner(),
            }),
        }
    }
}

/// Builds a `Value` like serde_json does, and copies each top-level string field into
/// `salvaged` as soon as it is read, so the fields before a syntax error survive it.
struct SalvagingVisitor<'a> {
    salvaged: &'a RefCell<Map<String, Value>>,
}

impl<'de> Visitor<'de> for SalvagingVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value: Value = map.next_value()?;
            if value.is_string() {
                self.salvaged
                    .borrow_mut()
                    .insert(key.clone(), value.clone());
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(value) = seq.next_element::<Value>()? {
            out.push(value);
        }
        Ok(Value::Array(out))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// What CloudFormation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestType {
    /// Create the resource.
    Create,
    /// Update the resource, in place or by replacement.
    Update,
    /// Delete the resource.
    Delete,
    /// Anything else, kept verbatim for the FAILED reason (missing is the empty string).
    Unknown(String),
}

/// A custom resource request with every field optional, read from whatever arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Create, Update, Delete or something else.
    pub request_type: RequestType,
    /// The presigned S3 URL the response goes to.
    pub response_url: Option<String>,
    /// The stack's ARN.
    pub stack_id: Option<String>,
    /// Unique per request; the same when Lambda redelivers the event.
    pub request_id: Option<String>,
    /// The resource's name in the template.
    pub logical_resource_id: Option<String>,
    /// The id we returned earlier (Update and Delete), or one CloudFormation invented.
    pub physical_resource_id: Option<String>,
    /// The function or topic the template names; tells direct mode from the CDK framework.
    pub service_token: Option<String>,
    /// How long CloudFormation waits for the answer (`ServiceTimeout`, 1 to 3600 seconds, at
    /// the top level or among the properties); `None` when absent or not such a number.
    pub service_timeout: Option<Duration>,
    /// The template's properties (an empty map when absent or not an object).
    pub properties: Map<String, Value>,
    /// The previous properties, on Update.
    pub old_properties: Option<Map<String, Value>>,
    /// Why the event could not be read whole, when it could not.
    pub malformed: Option<String>,
}

impl Request {
    /// Reads a request from an invocation payload, unwrapping an SNS envelope if there is one.
    pub fn from_incoming(incoming: Incoming) -> Request {
        match incoming {
            Incoming::Json(value) => match sns_message(&value) {
                Some(message) => Request::from_incoming(Incoming::from_slice(message.as_bytes())),
                None => Request::from_value(&value, None),
            },
            Incoming::Malformed { error, salvaged } => {
                Request::from_value(&Value::Object(salvaged), Some(error))
            }
        }
    }

    fn from_value(value: &Value, malformed: Option<String>) -> Request {
        let empty = Map::new();
        let top = value.as_object().unwrap_or(&empty);
        let text = |key: &str| top.get(key).and_then(Value::as_str).map(str::to_owned);
        let properties = top
            .get("ResourceProperties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let request_type = match top.get("RequestType").and_then(Value::as_str) {
            Some("Create") => RequestType::Create,
            Some("Update") => RequestType::Update,
            Some("Delete") => RequestType::Delete,
            Some(other) => RequestType::Unknown(other.to_owned()),
            None => RequestType::Unknown(String::new()),
        };
        let malformed = malformed
            .or_else(|| (!value.is_object()).then(|| "the event is not a JSON object".to_owned()));
        Request {
            request_type,
            response_url: text("ResponseURL"),
            stack_id: text("StackId"),
            request_id: text("RequestId"),
            logical_resource_id: text("LogicalResourceId"),
            physical_resource_id: text("PhysicalResourceId").filter(|id| !id.is_empty()),
            service_token: text("ServiceToken").or_else(|| {
                properties
                    .get("ServiceToken")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }),
            service_timeout: top
                .get("ServiceTimeout")
                .or_else(|| properties.get("ServiceTimeout"))
                .and_then(service_timeout),
            old_properties: top
                .get("OldResourceProperties")
                .and_then(Value::as_object)
                .cloned(),
            properties,
            malformed,
        }
    }
}

/// A ServiceTimeout as CloudFormation sends it (a string) or a CDK user may write it (a
/// number). Anything outside CloudFormation's range is left to the Lambda deadline alone.
fn service_timeout(value: &Value) -> Option<Duration> {
    let seconds = match value {
        Value::String(text) => text.trim().parse::<u64>().ok()?,
        other => other.as_u64()?,
    };
    (1..=3600)
        .contains(&seconds)
        .then(|| Duration::from_secs(seconds))
}

/// The request inside an SNS notification (`Records[0].Sns.Message`), if this is one.
fn sns_message(value: &Value) -> Option<&str> {
    value
        .get("Records")?
        .get(0)?
        .get("Sns")?
        .get("Message")?
        .as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_create_event() {
        let request = Request::from_incoming(Incoming::Json(json!({
            "RequestType": "Create",
            "ResponseURL": "https://bucket.s3.amazonaws.com/x?sig=1",
            "StackId": "arn:aws:cloudformation:us-east-1:1:stack/s/g",
            "RequestId": "r-1",
            "LogicalResourceId": "Assoc",
            "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:1:function:f", "Namespace": "ns"},
            "SomethingNew": {"ignored": true}
        })));
        assert_eq!(request.request_type, RequestType::Create);
        assert_eq!(request.request_id.as_deref(), Some("r-1"));
        assert_eq!(
            request.service_token.as_deref(),
            Some("arn:aws:lambda:us-east-1:1:function:f")
        );
        assert_eq!(request.properties["Namespace"], "ns");
        assert_eq!(request.malformed, None);
    }

    #[test]
    fn reads_service_timeout_from_the_top_or_the_properties() {
        let timeout = |event: Value| Request::from_incoming(Incoming::Json(event)).service_timeout;
        let seconds = |s| Some(Duration::from_secs(s));
        assert_eq!(timeout(json!({"ServiceTimeout": "30"})), seconds(30));
        assert_eq!(
            timeout(json!({"ResourceProperties": {"ServiceTimeout": "300"}})),
            seconds(300)
        );
        assert_eq!(
            timeout(
                json!({"ServiceTimeout": "60", "ResourceProperties": {"ServiceTimeout": "300"}})
            ),
            seconds(60)
        );
        assert_eq!(
            timeout(json!({"ResourceProperties": {"ServiceTimeout": 45}})),
            seconds(45)
        );
        for odd in [
            json!("0"),
            json!("3601"),
            json!("ten"),
            json!(-5),
            json!(1.5),
            json!(true),
        ] {
            assert_eq!(timeout(json!({"ServiceTimeout": odd})), None, "{odd}");
        }
        assert_eq!(timeout(json!({})), None);
    }

    #[test]
    fn salvages_fields_before_a_trailing_comma() {
        let bytes = br#"{"RequestType": "Create", "ResponseURL": "https://x.s3.amazonaws.com/k", "RequestId": "r", "ResourceProperties": {"A": "1",}}"#;
        let request = Request::from_incoming(Incoming::from_slice(bytes));
        assert_eq!(
            request.response_url.as_deref(),
            Some("https://x.s3.amazonaws.com/k")
        );
        assert_eq!(request.request_id.as_deref(), Some("r"));
        assert!(request.malformed.is_some());
    }

    #[test]
    fn trailing_garbage_is_malformed_but_salvaged() {
        let request = Request::from_incoming(Incoming::from_slice(
            br#"{"RequestType":"Delete","ResponseURL":"u"} trailing"#,
        ));
        assert_eq!(request.request_type, RequestType::Delete);
        assert_eq!(request.response_url.as_deref(), Some("u"));
        assert!(request.malformed.is_some());
    }

    #[test]
    fn unwraps_sns() {
        let inner = json!({"RequestType": "Update", "ResponseURL": "u", "PhysicalResourceId": "p"});
        let request = Request::from_incoming(Incoming::Json(json!({
            "Records": [{"EventSource": "aws:sns", "Sns": {"Message": inner.to_string()}}]
        })));
        assert_eq!(request.request_type, RequestType::Update);
        assert_eq!(request.physical_resource_id.as_deref(), Some("p"));
    }

    #[test]
    fn non_objects_and_odd_types_never_panic() {
        for payload in [
            json!(null),
            json!([1, 2]),
            json!("x"),
            json!({"RequestType": 5}),
        ] {
            let request = Request::from_incoming(Incoming::Json(payload));
            assert!(matches!(request.request_type, RequestType::Unknown(_)));
            assert_eq!(request.response_url, None);
        }
    }

    /// Whatever the payload's top level is, it reads as serde_json reads it.
    #[test]
    fn any_top_level_value_reads_as_json() {
        for payload in [
            "true",
            "-1",
            "1",
            "1.5",
            "\"x\"",
            "\"x\\n\"",
            "null",
            "[1, {\"a\": 2}]",
            "{}",
        ] {
            let expected: Value = serde_json::from_str(payload).unwrap();
            assert_eq!(
                Incoming::from_slice(payload.as_bytes()),
                Incoming::Json(expected),
                "{payload}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_malformed() {
        let request = Request::from_incoming(Incoming::from_slice(
            b"{\"ResponseURL\":\"u\",\"RequestId\":\"\xff\"}",
        ));
        assert_eq!(request.response_url.as_deref(), Some("u"));
        assert!(request.malformed.is_some());
    }
}
