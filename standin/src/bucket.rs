//! The response bucket: stands in for the S3 presigned PUT URL that
//! CloudFormation hands a custom resource as `ResponseURL`, refusing the
//! uploads S3 would refuse. A GET of the same URL returns the last upload
//! accepted, as CloudFormation reads it, for a person or a harness running
//! the function by hand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::Notify;

use crate::conn::MaybeConnection;
use crate::faults::Request;
use crate::gate::{self, Verdict};
use crate::wire::{percent_decode, percent_encode};
use crate::{lock, wait, Shared};

/// The fake `X-Amz-Signature` of every response URL. It stands for a
/// credential: a function that logs its response URL leaks it, which tests
/// detect by searching logs for this value.
pub const SIGNATURE: &str = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e7c0de";

/// An upload the bucket accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedPut {
    /// The uploaded bytes.
    pub body: Vec<u8>,
    /// The `Content-Type` header, if sent (an accepted upload has none or an empty one).
    pub content_type: Option<String>,
    /// The `Content-Length` header.
    pub content_length: Option<u64>,
    /// All request headers, names lowercase, in arrival order.
    pub headers: Vec<(String, String)>,
    /// When the upload arrived, on the clock of the invocation records'
    /// timestamps, so that the time from handing out an event to its response
    /// is one subtraction.
    pub received_at: Instant,
}

impl ReceivedPut {
    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// An upload the bucket refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedPut {
    /// Object key.
    pub key: String,
    /// HTTP status answered.
    pub status: u16,
    /// S3 error code answered, e.g. `MissingContentLength`.
    pub code: String,
}

/// An S3 error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    /// HTTP status.
    pub status: u16,
    /// S3 error code.
    pub code: String,
    /// Message.
    pub message: String,
}

impl S3Error {
    fn new(status: u16, code: &str, message: &str) -> Self {
        Self {
            status,
            code: code.to_string(),
            message: message.to_string(),
        }
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl IntoResponse for S3Error {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>\
             <RequestId>STANDIN</RequestId><HostId>standin</HostId></Error>",
            xml_escape(&self.code),
            xml_escape(&self.message)
        );
        (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            )],
            body,
        )
            .into_response()
    }
}

/// S3's rules for a presigned PUT, applied to what arrived.
pub fn check_upload(headers: &HeaderMap, body_len: usize) -> Result<u64, S3Error> {
    let missing_length = || {
        S3Error::new(
            411,
            "MissingContentLength",
            "You must provide the Content-Length HTTP header.",
        )
    };
    let chunked = headers.get_all(header::TRANSFER_ENCODING).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.to_ascii_lowercase().contains("chunked"))
    });
    if chunked {
        return Err(missing_length());
    }
    let length = headers
        .get(header::CONTENT_LENGTH)
        .ok_or_else(missing_length)?;
    // A presigned URL signs an empty content type; anything else breaks the signature.
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.as_bytes().iter().any(|b| !b.is_ascii_whitespace()))
        .unwrap_or(false);
    if content_type {
        return Err(S3Error::new(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method.",
        ));
    }
    let length: u64 = length
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| S3Error::new(400, "InvalidArgument", "Content-Length is not a number."))?;
    if length != body_len as u64 {
        return Err(S3Error::new(
            400,
            "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        ));
    }
    Ok(length)
}

/// S3's check of a presigned URL's query, as of `now`: the stand-in signs every URL with
/// [`SIGNATURE`], SigV4 (`X-Amz-Signature`, valid `X-Amz-Expires` seconds from `X-Amz-Date`)
/// or SigV2 (`Signature`, valid until `Expires`). A PUT without it is anonymous, and
/// CloudFormation's bucket is not public: a function that sent its response without the
/// query, or with it re-encoded, would have every answer refused.
pub fn check_signature(query: Option<&str>, now: SystemTime) -> Result<(), S3Error> {
    let mut pairs = HashMap::new();
    for pair in query.unwrap_or_default().split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (Ok(name), Ok(value)) = (percent_decode(name), percent_decode(value)) else {
            return Err(S3Error::new(
                400,
                "InvalidArgument",
                "The query is not valid.",
            ));
        };
        pairs.insert(name, value);
    }
    let get = |name: &str| pairs.get(name).map(String::as_str);
    let (signature, valid_until) = match (get("X-Amz-Signature"), get("Signature")) {
        (Some(signature), _) => {
            let signed_at = get("X-Amz-Date").and_then(parse_amz_date);
            let lasts = get("X-Amz-Expires").and_then(|v| v.parse().ok());
            let until = signed_at
                .zip(lasts)
                .and_then(|(at, secs)| at.checked_add(Duration::from_secs(secs)));
            (signature, until)
        }
        (None, Some(signature)) => {
            let expires = get("Expires").and_then(|v| v.parse().ok());
            let until = expires.and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs)));
            (signature, until)
        }
        (None, None) => return Err(S3Error::new(403, "AccessDenied", "Access Denied")),
    };
    if signature != SIGNATURE {
        return Err(S3Error::new(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method.",
        ));
    }
    match valid_until {
        Some(until) if now <= until => Ok(()),
        Some(_) => Err(S3Error::new(403, "AccessDenied", "Request has expired")),
        None => Err(S3Error::new(
            400,
            "AuthorizationQueryParametersError",
            "Query-string authentication requires its date and expiry parameters.",
        )),
    }
}

/// SigV4's `X-Amz-Date`, `YYYYMMDD'T'HHMMSS'Z'` in UTC, as a time.
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let digits = |range: std::ops::Range<usize>| -> Option<u64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if text.len() != 16 || text.as_bytes()[8] != b'T' || !text.ends_with('Z') {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    if year < 1970 {
        return None;
    }
    let (hour, minute, second) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Howard Hinnant's `days_from_civil`, the inverse of `civil_from_days` below.
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let (era, year_of_era) = (y / 400, y % 400);
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = (era * 146_097 + day_of_era).checked_sub(719_468)?;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
}

/// Uploads received and refused; waiters are woken on each accepted upload.
#[derive(Debug, Default)]
pub struct BucketState {
    objects: Mutex<HashMap<String, Vec<ReceivedPut>>>,
    rejected: Mutex<Vec<RejectedPut>>,
    arrived: Notify,
    /// Keys whose uploads are refused until the given time.
    refusing: Mutex<HashMap<String, Instant>>,
}

impl BucketState {
    /// Accepted uploads to `key`, oldest first.
    pub fn responses(&self, key: &str) -> Vec<ReceivedPut> {
        lock(&self.objects).get(key).cloned().unwrap_or_default()
    }

    /// Refused uploads, oldest first.
    pub fn rejected(&self) -> Vec<RejectedPut> {
        lock(&self.rejected).clone()
    }

    /// Waits until `key` has at least `n` accepted uploads or `timeout` passes;
    /// returns what arrived either way.
    pub async fn wait_for(&self, key: &str, n: usize, timeout: Duration) -> Vec<ReceivedPut> {
        wait::until(&self.arrived, Some(timeout), || {
            let got = self.responses(key);
            (got.len() >= n).then_some(got)
        })
        .await
        .unwrap_or_else(|| self.responses(key))
    }

    /// Refuses uploads to `key` with 503 SlowDown until `until`, as S3 in an outage would:
    /// long enough, and the function's invocation ends undelivered, for Lambda to run again.
    pub fn refuse_until(&self, key: &str, until: Instant) {
        lock(&self.refusing).insert(key.to_owned(), until);
    }

    fn refusing(&self, key: &str) -> bool {
        lock(&self.refusing)
            .get(key)
            .is_some_and(|until| Instant::now() < *until)
    }

    fn accept(&self, key: String, put: ReceivedPut) {
        lock(&self.objects).entry(key).or_default().push(put);
        self.arrived.notify_waiters();
    }

    fn reject(&self, key: String, error: &S3Error) {
        lock(&self.rejected).push(RejectedPut {
            key,
            status: error.status,
            code: error.code.clone(),
        });
    }
}

/// A presigned-looking URL for `key` on the stand-in at `base`, signed now, as
/// CloudFormation signs the URL of each event it sends.
pub fn presigned_url(base: &str, key: &str) -> String {
    presigned_url_signed_at(base, key, SystemTime::now())
}

/// A presigned-looking URL for `key` on the stand-in at `base`, signed at `at`: its
/// `X-Amz-Date` (and its credential's date) say when, as CloudFormation's do, and it is
/// valid for two hours after, as CloudFormation's are ([`check_signature`]).
pub fn presigned_url_signed_at(base: &str, key: &str, at: SystemTime) -> String {
    let date = amz_date(at);
    format!(
        "{base}/bucket/{}?X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIDSTANDINBUCKET%2F{}%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date={date}&X-Amz-Expires=7200&X-Amz-SignedHeaders=host\
         &X-Amz-Signature={SIGNATURE}",
        percent_encode(key, true),
        &date[..8],
    )
}

/// SigV4's `X-Amz-Date` for `at`: `YYYYMMDD'T'HHMMSS'Z'`, in UTC.
fn amz_date(at: SystemTime) -> String {
    let seconds = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days(seconds / 86_400);
    let second_of_day = seconds % 86_400;
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// The date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let (era, day_of_era) = (z / 146_097, z % 146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The bucket route.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/bucket/{*key}", get(download).put(upload))
}

/// The object key a request's path names, decoded as S3 decodes it.
fn object_key(uri: &Uri) -> Result<String, S3Error> {
    let raw_key = uri.path().strip_prefix("/bucket/").unwrap_or_default();
    percent_decode(raw_key)
        .map_err(|_| S3Error::new(400, "InvalidURI", "Couldn't parse the specified URI."))
}

/// The object at `key`: the last upload accepted there, as S3 keeps only the last one.
async fn download(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let key = match object_key(&uri) {
        Ok(key) => key,
        Err(error) => return error.into_response(),
    };
    match shared.bucket.responses(&key).pop() {
        Some(put) => {
            // S3 answers with the type the object was stored with; uploads have none.
            let content_type = put
                .content_type
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "binary/octet-stream".to_string());
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, content_type)],
                put.body,
            )
                .into_response()
        }
        None => S3Error::new(404, "NoSuchKey", "The specified key does not exist.").into_response(),
    }
}

async fn upload(
    State(shared): State<Arc<Shared>>,
    MaybeConnection(conn): MaybeConnection,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let key = match object_key(&uri) {
        Ok(key) => key,
        Err(error) => return error.into_response(),
    };
    if shared.bucket.refusing(&key) {
        let error = S3Error::new(503, "SlowDown", "Please reduce your request rate.");
        shared.bucket.reject(key, &error);
        return error.into_response();
    }
    let verdict = gate::admit(&shared, Request::Bucket, conn.as_ref()).await;
    let reset_after = matches!(verdict, Verdict::ProceedThenReset);
    let checked = match verdict {
        Verdict::Reset => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Verdict::Fail {
            status,
            error_type,
            message,
        } => Err(S3Error::new(status, &error_type, &message)),
        Verdict::Proceed | Verdict::ProceedThenReset => match body {
            Ok(body) => check_signature(uri.query(), SystemTime::now())
                .and_then(|()| check_upload(&headers, body.len()))
                .map(|length| (body, length)),
            Err(_) => Err(S3Error::new(
                400,
                "IncompleteBody",
                "The request body could not be read.",
            )),
        },
    };
    match checked {
        Ok((body, length)) => {
            let header_text = |name| {
                headers
                    .get(name)
                    .map(|v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned())
            };
            let put = ReceivedPut {
                body: body.to_vec(),
                content_type: header_text(header::CONTENT_TYPE),
                content_length: Some(length),
                headers: headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                received_at: Instant::now(),
            };
            shared.bucket.accept(key, put);
            if reset_after {
                gate::reset(conn.as_ref());
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
            (
                StatusCode::OK,
                [(
                    header::ETAG,
                    HeaderValue::from_static("\"5ec7e7c0de5ec7e7c0de5ec7e7c0de00\""),
                )],
            )
                .into_response()
        }
        Err(error) => {
            shared.bucket.reject(key, &error);
            error.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    header::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn a_plain_put_with_content_length_is_accepted() {
        assert_eq!(check_upload(&headers(&[("content-length", "5")]), 5), Ok(5));
        // An empty content type is what the URL was signed with.
        assert_eq!(
            check_upload(
                &headers(&[("content-length", "0"), ("content-type", "")]),
                0
            ),
            Ok(0)
        );
    }

    #[test]
    fn chunked_or_unsized_uploads_need_a_length() {
        let chunked = headers(&[("transfer-encoding", "chunked")]);
        assert_eq!(check_upload(&chunked, 5).unwrap_err().status, 411);
        let e = check_upload(&headers(&[]), 5).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (411, "MissingContentLength"));
    }

    #[test]
    fn a_content_type_breaks_the_signature() {
        let h = headers(&[
            ("content-length", "2"),
            ("content-type", "application/json"),
        ]);
        let e = check_upload(&h, 2).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (403, "SignatureDoesNotMatch"));
    }

    #[test]
    fn length_must_match_the_body() {
        let e = check_upload(&headers(&[("content-length", "9")]), 2).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "IncompleteBody"));
        let e = check_upload(&headers(&[("content-length", "x")]), 2).unwrap_err();
        assert_eq!(e.status, 400);
    }

    #[test]
    fn presigned_urls_carry_the_fake_signature() {
        assert_eq!(SIGNATURE.len(), 64);
        assert!(SIGNATURE.bytes().all(|b| b.is_ascii_hexdigit()));
        let url = presigned_url("http://127.0.0.1:1", "stack|res/1");
        assert!(url.starts_with("http://127.0.0.1:1/bucket/stack%7Cres/1?X-Amz-Algorithm="));
        assert!(url.ends_with(&format!("X-Amz-Signature={SIGNATURE}")));
    }

    #[test]
    fn presigned_urls_say_when_they_were_signed() {
        // `date -u -d @1796627730`: Mon Dec  7 07:15:30 UTC 2026.
        let at = UNIX_EPOCH + Duration::from_secs(1_796_627_730);
        let url = presigned_url_signed_at("http://h", "k", at);
        assert!(url.contains("&X-Amz-Date=20261207T071530Z&"), "{url}");
        assert!(url.contains("%2F20261207%2Fus-east-1%2F"), "{url}");
        assert_eq!(amz_date(UNIX_EPOCH), "19700101T000000Z");
        // A leap day, and the last second of a year.
        assert_eq!(
            amz_date(UNIX_EPOCH + Duration::from_secs(1_709_164_800)),
            "20240229T000000Z"
        );
        assert_eq!(
            amz_date(UNIX_EPOCH + Duration::from_secs(1_704_067_199)),
            "20231231T235959Z"
        );
    }

    /// The query of `url`, after its `?`.
    fn query(url: &str) -> Option<&str> {
        url.split_once('?').map(|(_, query)| query)
    }

    #[test]
    fn a_presigned_put_needs_its_query_unexpired_and_unchanged() {
        let signed = UNIX_EPOCH + Duration::from_secs(1_796_600_000);
        let url = presigned_url_signed_at("http://b", "k", signed);
        let at = |secs| signed + Duration::from_secs(secs);
        assert_eq!(check_signature(query(&url), at(0)), Ok(()));
        assert_eq!(check_signature(query(&url), at(7200)), Ok(()), "two hours");
        let expired = check_signature(query(&url), at(7201)).unwrap_err();
        assert_eq!(
            (expired.status, expired.message.as_str()),
            (403, "Request has expired")
        );
        let anonymous = check_signature(None, at(0)).unwrap_err();
        assert_eq!(
            (anonymous.status, anonymous.code.as_str()),
            (403, "AccessDenied")
        );
        let forged = url.replace(SIGNATURE, &"0".repeat(64));
        let forged = check_signature(query(&forged), at(0)).unwrap_err();
        assert_eq!(forged.code, "SignatureDoesNotMatch");
        let undated = url.replace("X-Amz-Date", "X-Amz-Dated");
        assert_eq!(
            check_signature(query(&undated), at(0)).unwrap_err().status,
            400
        );
        // SigV2, as older CloudFormation URLs are: valid until `Expires`.
        let v2 = format!("AWSAccessKeyId=A&Expires=1796600000&Signature={SIGNATURE}");
        assert_eq!(check_signature(Some(&v2), at(0)), Ok(()));
        assert_eq!(check_signature(Some(&v2), at(1)).unwrap_err().status, 403);
    }

    #[test]
    fn amz_dates_read_back_as_written() {
        for secs in [0, 951_782_400, 1_796_600_000, 4_102_444_799] {
            let at = UNIX_EPOCH + Duration::from_secs(secs);
            assert_eq!(parse_amz_date(&amz_date(at)), Some(at), "{}", amz_date(at));
        }
        assert_eq!(parse_amz_date("20261307T000000Z"), None, "month 13");
        assert_eq!(parse_amz_date("00000101T000000Z"), None, "before 1970");
        assert_eq!(parse_amz_date("20261207 000000Z"), None);
        assert_eq!(parse_amz_date("2026120T0000000Z"), None);
    }

    #[test]
    fn error_bodies_are_s3_xml() {
        let r = S3Error::new(411, "MissingContentLength", "a<b").into_response();
        assert_eq!(r.status(), StatusCode::LENGTH_REQUIRED);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/xml");
    }
}
