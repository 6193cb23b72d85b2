//! Small pieces of the AWS wire format that every route needs: percent
//! encoding of URI labels and query strings, the signing region of a SigV4
//! request, and the partition a region belongs to.

use axum::http::HeaderMap;

/// The region used when a request carries no usable SigV4 credential scope,
/// as the AWS SDKs default to it.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Why a percent-encoded string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::BadEscape => write!(f, "malformed percent escape"),
            DecodeError::NotUtf8 => write!(f, "percent-decoded text is not UTF-8"),
        }
    }
}

/// Decodes `%XX` escapes (a URI path label); `+` stays a plus sign.
pub fn percent_decode(s: &str) -> Result<String, DecodeError> {
    decode(s, false)
}

/// Decodes a query-string component: `%XX` escapes, and `+` as a space
/// (form encoding, which botocore and the Rust SDK never emit for a literal
/// plus: they send `%2B`).
pub fn query_decode(s: &str) -> Result<String, DecodeError> {
    decode(s, true)
}

fn decode(s: &str, plus_is_space: bool) -> Result<String, DecodeError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|b| hex_value(*b));
                let lo = bytes.get(i + 2).and_then(|b| hex_value(*b));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(DecodeError::BadEscape),
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError::NotUtf8)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes everything except RFC 3986 unreserved characters and, if
/// `keep_slash`, `/` (for multi-segment keys).
pub fn percent_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Splits a raw query string into decoded `(name, value)` pairs, keeping
/// repeated names (UntagResource sends `tagKeys=a&tagKeys=b`).
pub fn parse_query(raw: Option<&str>) -> Result<Vec<(String, String)>, DecodeError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((query_decode(name)?, query_decode(value)?))
        })
        .collect()
}

/// The region of a SigV4-signed request, read from the credential scope of
/// its `Authorization` header (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`).
/// Falls back to [`DEFAULT_REGION`] when absent or unparseable, since the
/// stand-in does not check signatures and must still answer.
pub fn signing_region(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(region_from_authorization)
        .unwrap_or_else(|| DEFAULT_REGION.to_string())
}

/// The region inside an `Authorization` header value, if it has a SigV4
/// credential scope.
pub fn region_from_authorization(value: &str) -> Option<String> {
    let start = value.find("Credential=")? + "Credential=".len();
    let scope = value[start..]
        .split(|c: char| c == ',' || c.is_whitespace())
        .next()?;
    let parts: Vec<&str> = scope.split('/').collect();
    // Counted from the end: the scope's tail is fixed, the key id is not ours to trust.
    if parts.len() < 5 || parts[parts.len() - 1] != "aws4_request" {
        return None;
    }
    let region = parts[parts.len() - 3];
    let valid = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    valid.then(|| region.to_string())
}

/// The partition a region belongs to, for building ARNs.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn decodes_an_encoded_arn() {
        let raw = "arn%3Aaws%3Aeks%3Aus-west-2%3A111122223333%3Apodidentityassociation%2Fmy-cluster%2Fa-abc";
        assert_eq!(
            percent_decode(raw).as_deref(),
            Ok("arn:aws:eks:us-west-2:111122223333:podidentityassociation/my-cluster/a-abc")
        );
    }

    #[test]
    fn lowercase_escapes_and_plain_text_pass() {
        assert_eq!(percent_decode("a%2fb%3a").as_deref(), Ok("a/b:"));
        assert_eq!(
            percent_decode("plain-text_1").as_deref(),
            Ok("plain-text_1")
        );
        assert_eq!(percent_decode("a+b").as_deref(), Ok("a+b"));
        assert_eq!(query_decode("a+b%2B").as_deref(), Ok("a b+"));
    }

    #[test]
    fn malformed_escapes_are_errors_not_panics() {
        assert_eq!(percent_decode("%"), Err(DecodeError::BadEscape));
        assert_eq!(percent_decode("%4"), Err(DecodeError::BadEscape));
        assert_eq!(percent_decode("%zz"), Err(DecodeError::BadEscape));
        assert_eq!(percent_decode("%C3%28"), Err(DecodeError::NotUtf8));
        assert_eq!(percent_decode("%C3%A9").as_deref(), Ok("é"));
    }

    #[test]
    fn encoding_round_trips() {
        let s = "arn:aws:eks:eu-west-1:1:x/y z+é";
        assert_eq!(percent_decode(&percent_encode(s, false)).as_deref(), Ok(s));
        assert_eq!(percent_encode("a/b c", true), "a/b%20c");
        assert_eq!(percent_encode("a/b", false), "a%2Fb");
    }

    #[test]
    fn query_keeps_repeated_names_in_order() {
        let q = parse_query(Some("tagKeys=a&tagKeys=b%20c&flag&=x")).unwrap_or_default();
        assert_eq!(
            q,
            vec![
                ("tagKeys".to_string(), "a".to_string()),
                ("tagKeys".to_string(), "b c".to_string()),
                ("flag".to_string(), String::new()),
                (String::new(), "x".to_string()),
            ]
        );
        assert_eq!(parse_query(None), Ok(vec![]));
        assert!(parse_query(Some("a=%G0")).is_err());
    }

    #[test]
    fn region_comes_from_the_credential_scope() {
        let h = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261130/us-west-2/eks/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(region_from_authorization(h).as_deref(), Some("us-west-2"));
        let no_space = "AWS4-HMAC-SHA256 Credential=AK/20261130/cn-north-1/eks/aws4_request,SignedHeaders=host";
        assert_eq!(
            region_from_authorization(no_space).as_deref(),
            Some("cn-north-1")
        );
    }

    #[test]
    fn unusable_authorization_falls_back_to_us_east_1() {
        for bad in [
            "",
            "Bearer token",
            "AWS4-HMAC-SHA256 Credential=AK/20261130",
            "AWS4-HMAC-SHA256 Credential=AK/20261130/US_WEST/eks/aws4_request",
            "AWS4-HMAC-SHA256 Credential=AK/20261130/us-west-2/eks/other",
        ] {
            assert_eq!(region_from_authorization(bad), None, "{bad}");
        }
        let mut headers = HeaderMap::new();
        assert_eq!(signing_region(&headers), "us-east-1");
        headers.insert("authorization", HeaderValue::from_static("garbage"));
        assert_eq!(signing_region(&headers), "us-east-1");
        headers.insert(
            "authorization",
            HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=A/2/eu-west-1/eks/aws4_request"),
        );
        assert_eq!(signing_region(&headers), "eu-west-1");
    }

    #[test]
    fn partitions_follow_the_region_prefix() {
        assert_eq!(partition_of("us-east-1"), "aws");
        assert_eq!(partition_of("eu-central-1"), "aws");
        assert_eq!(partition_of("cn-northwest-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
    }
}
