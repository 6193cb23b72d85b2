//! Outbound delivery of the response: the PUT to the presigned ResponseURL.
//!
//! The URL is a credential: it is only ever contacted over https on a host in an AWS
//! partition's domain (or on the loopback address when allowed, for local runs), and its query
//! string never reaches a log or an error message. S3 fails now and then, so the PUT is retried
//! with backoff and jitter, each attempt bounded, until the invocation's deadline.

use crate::backoff::Backoff;
use crate::late::{parse_amz_date, Signed};
use reqwest::header::CONTENT_LENGTH;
use reqwest::Url;
use std::fmt;
use std::time::{Duration, UNIX_EPOCH};
use tokio::time::Instant;
use tracing::warn;

/// At most this many PUTs of one response that S3 refused with a status that another try
/// is unlikely to change (see [`worth_retrying`]). Failures that pass (network errors,
/// timeouts, 5xx, 408, 429) are retried for as long as time is left: a response not
/// delivered in this invocation can only come from Lambda's retry of the event, which runs
/// the event's EKS calls again a minute or more later, when CloudFormation may have stopped
/// waiting for it and rolled back (README, "Failure behaviour and retries").
const MAX_REFUSALS: u32 = 8;
/// One PUT may take this long at most (less when the deadline is nearer: [`attempt_timeout`]).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// With less than this left, a PUT may take all of it.
const LAST_ATTEMPT: Duration = Duration::from_secs(2);
/// The first pause between attempts; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// The longest pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// The DNS suffixes of the AWS partitions (the SDK's partition table): CloudFormation's
/// presigned ResponseURLs are on S3 in the stack's own partition.
const AWS_DNS_SUFFIXES: [&str; 7] = [
    ".amazonaws.com",    // aws, aws-us-gov
    ".amazonaws.com.cn", // aws-cn
    ".amazonaws.eu",     // aws-eusc
    ".c2s.ic.gov",       // aws-iso
    ".sc2s.sgov.gov",    // aws-iso-b
    ".cloud.adc-e.uk",   // aws-iso-e
    ".csp.hci.ic.gov",   // aws-iso-f
];

/// A ResponseURL that passed the host check. Its `Display` leaves out the query string.
#[derive(Clone)]
pub struct ResponseUrl(Url);

/// Why a ResponseURL is not contacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlRefused {
    /// The URL without its query string.
    pub url: String,
    /// The rule it breaks.
    pub rule: &'static str,
}

impl fmt::Display for UrlRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResponseURL {} refused: {}", self.url, self.rule)
    }
}

impl std::error::Error for UrlRefused {}

impl ResponseUrl {
    /// Checks a ResponseURL: https on a host under an AWS partition's DNS suffix
    /// (`*.amazonaws.com`, `*.amazonaws.com.cn`, `*.amazonaws.eu` and the ISO partitions');
    /// with `allow_loopback`, also http(s) on 127.0.0.1, ::1 or localhost.
    pub fn parse(text: &str, allow_loopback: bool) -> Result<ResponseUrl, UrlRefused> {
        let refused = |rule| UrlRefused {
            url: redact(text),
            rule,
        };
        let url = Url::parse(text).map_err(|_| refused("not a valid URL"))?;
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let aws = AWS_DNS_SUFFIXES
            .iter()
            .any(|suffix| host.ends_with(suffix) && host.len() > suffix.len());
        let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
        match url.scheme() {
            "https" if aws => Ok(ResponseUrl(url)),
            "http" | "https" if loopback && allow_loopback => Ok(ResponseUrl(url)),
            _ if loopback => Err(refused(
                "a loopback ResponseURL is only allowed with CFN_RESPONSE_ALLOW_LOOPBACK=true",
            )),
            "https" => Err(refused(
                "the host is not in an AWS partition's domain (*.amazonaws.com, *.amazonaws.com.cn, \
                 *.amazonaws.eu, *.c2s.ic.gov, *.sc2s.sgov.gov, *.cloud.adc-e.uk, *.csp.hci.ic.gov)",
            )),
            _ => Err(refused("only https is allowed")),
        }
    }

    /// The host the response is PUT to.
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// When the URL was signed and until when it works, as far as its query says: SigV4's
    /// `X-Amz-Date` and `X-Amz-Expires`, or SigV2's `Expires` (seconds since 1970).
    pub fn signed(&self) -> Signed {
        let (mut date, mut expires, mut v2_expires) = (None, None, None);
        for (name, value) in self.0.query_pairs() {
            match name.as_ref() {
                "X-Amz-Date" => date = parse_amz_date(&value),
                "X-Amz-Expires" => expires = value.parse::<u64>().ok(),
                "Expires" => v2_expires = value.parse::<u64>().ok(),
                _ => {}
            }
        }
        let seconds = |n| Duration::from_secs(n);
        let until = match (date, expires) {
            (Some(date), Some(expires)) => date.checked_add(seconds(expires)),
            _ => v2_expires.and_then(|at| UNIX_EPOCH.checked_add(seconds(at))),
        };
        Signed { at: date, until }
    }
}

impl fmt::Display for ResponseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(self.0.as_str()))
    }
}

impl fmt::Debug for ResponseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResponseUrl({self})")
    }
}

/// A URL without its query string and fragment, safe to log.
pub fn redact(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url[..end].to_owned()
}

/// The response could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFailed {
    /// How many PUTs were tried.
    pub attempts: u32,
    /// What the last one got.
    pub last_error: String,
}

impl fmt::Display for DeliveryFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the response was not delivered after {} attempts: {}",
            self.attempts, self.last_error
        )
    }
}

impl std::error::Error for DeliveryFailed {}

/// PUTs `body` to `url` (no Content-Type, exact Content-Length), retrying network errors and
/// any status but 2xx until it is delivered or `deadline` comes, or S3 has answered eight
/// times with a status another try will not change (a 4xx but 408 and 429, a redirect).
/// Returns the number of attempts it took. A redirect is not a
/// delivery, unless the client followed it (`http::client`: a 307 or 308 to https on a host in
/// an AWS partition's domain) and the PUT was stored there: S3's 301 PermanentRedirect for a
/// bucket addressed at another region's endpoint has no Location, and stored nothing.
pub async fn deliver(
    http: &reqwest::Client,
    url: &ResponseUrl,
    body: Vec<u8>,
    deadline: Instant,
) -> Result<u32, DeliveryFailed> {
    let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    let mut last_error = String::from("no time was left to try");
    let mut attempts = 0;
    let mut refusals = 0;
    while refusals < MAX_REFUSALS {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining < Duration::from_millis(20) {
            break;
        }
        attempts += 1;
        let put = http
            .put(url.0.clone())
            .header(CONTENT_LENGTH, body.len())
            .body(body.clone())
            .send();
        let limit = attempt_timeout(remaining);
        match tokio::time::timeout(limit, put).await {
            Ok(Ok(response)) if response.status().is_success() => return Ok(attempts),
            Ok(Ok(response)) => {
                if !worth_retrying(response.status()) {
                    refusals += 1;
                }
                last_error = format!("HTTP status {}", response.status());
            }
            Ok(Err(error)) => last_error = describe(error),
            Err(_) => last_error = format!("no answer within {limit:?}"),
        }
        warn!(attempt = attempts, error = %last_error, url = %url, "response PUT failed");
        if refusals == MAX_REFUSALS {
            break;
        }
        let pause = backoff
            .next_pause()
            .min(deadline.saturating_duration_since(Instant::now()));
        tokio::time::sleep(pause).await;
    }
    Err(DeliveryFailed {
        attempts,
        last_error,
    })
}

/// How long the next PUT may take with `remaining` left before the deadline: at most
/// [`ATTEMPT_TIMEOUT`], and at most half of what is left, so that a connection that stalls
/// (a lost SYN, an S3 address that has gone dark) leaves time for another on a fresh one.
/// That matters when the deadline is near: an event whose EKS call hung until the guard has
/// only the reserve, a few seconds, to answer in. Under [`LAST_ATTEMPT`] left, all of it.
fn attempt_timeout(remaining: Duration) -> Duration {
    if remaining < LAST_ATTEMPT {
        remaining
    } else {
        (remaining / 2).min(ATTEMPT_TIMEOUT)
    }
}

/// What went wrong with a PUT that got no answer. reqwest's own message only says "error
/// sending request", whether the host could not be looked up, refused the connection or showed
/// a certificate it does not trust, so its causes follow. reqwest's messages name the URL, and
/// the presigned query is a credential: the URL is left out, and any query left in a cause is
/// cut off.
fn describe(error: reqwest::Error) -> String {
    without_queries(&crate::http::with_causes(&error.without_url()))
}

/// `text` with anything from a `?` or `#` to the next space cut out, as [`redact`] cuts a URL
/// (a query has no spaces: they are escaped).
fn without_queries(text: &str) -> String {
    text.split(' ').map(redact).collect::<Vec<_>>().join(" ")
}

/// Whether a PUT that got `status` may well get through if sent again: S3 was busy or failed
/// (5xx, 429 SlowDown), or gave up waiting for the body (408). Any other status (an expired
/// or refused signature, a redirect) will most likely come again.
fn worth_retrying(status: reqwest::StatusCode) -> bool {
    use reqwest::StatusCode;
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PUT that could not connect says why, and not where: the query stays out.
    #[tokio::test]
    async fn a_put_without_an_answer_says_why_but_not_the_query() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let error = crate::http::client_trusting(None, Default::default())
            .unwrap()
            .put(format!(
                "http://127.0.0.1:{port}/bucket/key?X-Amz-Signature=secret"
            ))
            .body("{}")
            .send()
            .await
            .unwrap_err();
        let described = describe(error);
        assert!(described.contains("refused"), "{described}");
        assert!(!described.contains("secret"), "{described}");
    }

    #[test]
    fn an_attempt_leaves_time_for_another_but_the_last() {
        let secs = Duration::from_secs;
        assert_eq!(attempt_timeout(secs(300)), ATTEMPT_TIMEOUT);
        assert_eq!(attempt_timeout(secs(20)), ATTEMPT_TIMEOUT);
        // The guard's reserve after EKS hung: two tries at least.
        assert_eq!(attempt_timeout(secs(5)), Duration::from_millis(2500));
        assert_eq!(attempt_timeout(LAST_ATTEMPT), LAST_ATTEMPT / 2);
        let last = LAST_ATTEMPT - Duration::from_millis(1);
        assert_eq!(attempt_timeout(last), last);
    }

    #[test]
    fn a_query_in_a_message_is_cut_off() {
        let message = "error for url (https://b.s3.amazonaws.com/k?X-Amz-Signature=s#f): \
                       see /bucket/k?X-Amz-Credential=c and retry";
        assert_eq!(
            without_queries(message),
            "error for url (https://b.s3.amazonaws.com/k see /bucket/k and retry"
        );
    }

    #[test]
    fn only_busy_or_failing_answers_are_worth_retrying_for_long() {
        use reqwest::StatusCode;
        for code in [500, 502, 503, 504, 408, 429] {
            assert!(
                worth_retrying(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
        for code in [301, 307, 400, 403, 404, 411] {
            assert!(
                !worth_retrying(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
    }

    #[test]
    fn accepts_s3_hosts_over_https() {
        for url in [
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/a?X-Amz-Signature=s",
            "https://bucket.s3.cn-north-1.amazonaws.com.cn/key",
            "https://s3.us-east-1.amazonaws.com/bucket/key",
            // The other partitions' S3 domains.
            "https://bucket.s3.eusc-de-east-1.amazonaws.eu/key",
            "https://bucket.s3.us-iso-east-1.c2s.ic.gov/key",
            "https://bucket.s3.us-isob-east-1.sc2s.sgov.gov/key",
            "https://bucket.s3.eu-isoe-west-1.cloud.adc-e.uk/key",
            "https://bucket.s3.us-isof-south-1.csp.hci.ic.gov/key",
        ] {
            assert!(ResponseUrl::parse(url, false).is_ok(), "{url}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        for url in [
            "http://bucket.s3.amazonaws.com/key",
            "https://amazonaws.com/key",
            "https://evil.example.com/.amazonaws.com",
            "https://s3.amazonaws.com.evil.example/key",
            "https://bucket.s3.amazonaws.com:443@evil.example/key",
            "https://c2s.ic.gov/key",
            "https://evilc2s.ic.gov/key",
            "https://amazonaws.eu.evil.example/key",
            "http://pre-signed-S3-url-for-response",
            "pre-signed-url-for-create-response",
            "http://127.0.0.1:9000/bucket/key",
            "file:///etc/passwd",
        ] {
            assert!(ResponseUrl::parse(url, false).is_err(), "{url}");
        }
    }

    /// Cargo.toml pins idna's stub back end: a host name must already be ASCII (punycode).
    #[test]
    fn a_unicode_host_name_is_not_a_valid_url_but_its_punycode_is() {
        let refused = ResponseUrl::parse("https://bücket.s3.amazonaws.com/key?sig=secret", false)
            .unwrap_err();
        assert_eq!(refused.rule, "not a valid URL");
        assert!(ResponseUrl::parse("https://xn--bcket-kva.s3.amazonaws.com/key", false).is_ok());
    }

    #[test]
    fn loopback_only_when_allowed() {
        assert!(ResponseUrl::parse("http://127.0.0.1:9000/b/k?sig=1", true).is_ok());
        assert!(ResponseUrl::parse("http://localhost:9000/b/k", true).is_ok());
        let refused =
            ResponseUrl::parse("http://127.0.0.1:9000/b/k?sig=secret", false).unwrap_err();
        assert!(refused.rule.contains("CFN_RESPONSE_ALLOW_LOOPBACK"));
        assert!(ResponseUrl::parse("http://10.0.0.1/b/k", true).is_err());
    }

    #[test]
    fn says_when_it_was_signed_and_until_when_it_works() {
        let v4 = ResponseUrl::parse(
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Date=20261207T071530Z&X-Amz-Expires=7200&X-Amz-Signature=s",
            false,
        )
        .unwrap()
        .signed();
        let at = UNIX_EPOCH + Duration::from_secs(1_796_627_730);
        assert_eq!(v4.at, Some(at));
        assert_eq!(v4.until, Some(at + Duration::from_secs(7200)));
        // The SigV2 URLs of the AWS documentation's events.
        let v2 = ResponseUrl::parse(
            "https://r.s3-us-east-2.amazonaws.com/k?AWSAccessKeyId=A&Expires=1555451971&Signature=s",
            false,
        )
        .unwrap()
        .signed();
        assert_eq!(v2.at, None);
        assert_eq!(
            v2.until,
            Some(UNIX_EPOCH + Duration::from_secs(1_555_451_971))
        );
        let unsigned = ResponseUrl::parse("https://b.s3.amazonaws.com/k", false).unwrap();
        assert_eq!(unsigned.signed(), Signed::default());
    }

    #[test]
    fn the_query_string_never_shows() {
        let text = "https://b.s3.amazonaws.com/k?X-Amz-Signature=topsecret";
        let url = ResponseUrl::parse(text, false).unwrap();
        assert_eq!(url.to_string(), "https://b.s3.amazonaws.com/k");
        assert_eq!(
            format!("{url:?}"),
            "ResponseUrl(https://b.s3.amazonaws.com/k)"
        );
        let refused = ResponseUrl::parse("https://evil.example/k?X-Amz-Signature=topsecret", false)
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            format!(
                "ResponseURL https://evil.example/k refused: {}",
                refused.rule
            )
        );
    }

    /// A refusal names the rule the URL breaks, so the log says what to fix.
    #[test]
    fn each_refusal_names_its_rule() {
        for (url, rule) in [
            (
                "https://evil.example.com/k",
                "not in an AWS partition's domain",
            ),
            (
                "https://.amazonaws.com/k",
                "not in an AWS partition's domain",
            ),
            (
                "http://bucket.s3.amazonaws.com/key",
                "only https is allowed",
            ),
            ("ftp://bucket.s3.amazonaws.com/key", "only https is allowed"),
            (
                "http://127.0.0.1:9000/b/k",
                "CFN_RESPONSE_ALLOW_LOOPBACK=true",
            ),
            ("pre-signed-url-for-create-response", "not a valid URL"),
        ] {
            let refused = ResponseUrl::parse(url, false).unwrap_err();
            assert!(refused.rule.contains(rule), "{url}: {}", refused.rule);
        }
    }

    #[test]
    fn the_host_is_the_urls() {
        let url = ResponseUrl::parse("https://Bucket.S3.amazonaws.com/k?sig=1", false).unwrap();
        assert_eq!(url.host(), "bucket.s3.amazonaws.com");
    }

    #[test]
    fn a_failed_delivery_says_how_often_it_was_tried_and_the_last_error() {
        let failed = DeliveryFailed {
            attempts: 3,
            last_error: "HTTP 503".into(),
        };
        assert_eq!(
            failed.to_string(),
            "the response was not delivered after 3 attempts: HTTP 503"
        );
    }
}
