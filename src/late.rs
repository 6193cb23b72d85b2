//! Events that come after CloudFormation has stopped waiting for them.
//!
//! CloudFormation waits for a custom resource's answer for its ServiceTimeout (an hour unless
//! the template says less), counted from when it sent the event; then it fails the resource
//! and moves on, rolling back. Lambda can hand an event over later than that: it keeps
//! asynchronous invocations queued for up to six hours while the function is throttled, and
//! runs an event again a minute or more after an invocation that failed. Acted on then, a
//! Create would make an association that no stack knows of (the rollback's Delete may well
//! have come and gone), and an Update would change what the rollback restored. So such an
//! event changes nothing, and answers FAILED to a URL nobody reads any more (nothing at all to
//! one that has expired, which S3 would refuse).
//!
//! A Delete too, even of an association ARN, which would seem safe to carry out whenever it
//! comes: once CloudFormation has stopped waiting for it, the stack can move on, and a later
//! update that returns the resource to that service account adopts the association it finds
//! there, which this resource still owns. Carried out then, the late Delete would take the
//! association from under the running pods. What is left instead is an association owned by
//! this stack resource: adopted if the resource returns to its service account, named in the
//! conflict error of any other that tries, and in this function's log.
//!
//! When CloudFormation sent the event is in the ResponseURL it signed: SigV4's `X-Amz-Date`.
//! The SigV2 URLs of older events say only when they stop working (`Expires`, two hours
//! after), which is later than any ServiceTimeout. A URL that says neither is never late.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long CloudFormation waits when the event sets no ServiceTimeout.
const DEFAULT_SERVICE_TIMEOUT: Duration = Duration::from_secs(3600);

/// Allowed on top of CloudFormation's wait before an event is called late: for its clock and
/// Lambda's, both kept by Amazon's time service, and for the URL being signed a moment before
/// the event is sent. An event less late than that gets no time to work instead: its deadline
/// is when CloudFormation stops waiting ([`waits_until`]), already past.
const GRACE: Duration = Duration::from_secs(60);

/// What a ResponseURL says of when it was signed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signed {
    /// When it was signed (SigV4's `X-Amz-Date`), which is when CloudFormation sent the event.
    pub at: Option<SystemTime>,
    /// When it stops working (`X-Amz-Date` plus `X-Amz-Expires`, or SigV2's `Expires`).
    pub until: Option<SystemTime>,
}

/// CloudFormation no longer waits for the answer to an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Late {
    /// The event came more than its ServiceTimeout (and a minute's grace) after it was sent.
    PastServiceTimeout {
        /// How long ago CloudFormation sent it.
        sent_ago: Duration,
        /// How long CloudFormation waits for the answer.
        service_timeout: Duration,
    },
    /// Its ResponseURL stopped working (more than a minute ago).
    UrlExpired {
        /// How long ago.
        ago: Duration,
    },
}

impl fmt::Display for Late {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Late::PastServiceTimeout {
                sent_ago,
                service_timeout,
            } => write!(
                f,
                "The event came {} after CloudFormation sent it, which waits {} for the \
                 answer (its ServiceTimeout), so CloudFormation has failed the resource and \
                 moved on; nothing was changed, so that nothing is made that no stack knows of.",
                minutes(*sent_ago),
                minutes(*service_timeout),
            ),
            Late::UrlExpired { ago } => write!(
                f,
                "The event's ResponseURL expired {} ago, so CloudFormation has stopped waiting \
                 for the answer; nothing was changed, so that nothing is made that no stack \
                 knows of.",
                minutes(*ago),
            ),
        }
    }
}

/// The soonest Lambda runs an event again after an invocation that failed: a minute after it
/// ended, less some for the clocks.
pub const SOONEST_RETRY: Duration = Duration::from_secs(50);

/// Whether this run of an event whose ResponseURL was `signed` so is its first, at `now`: it
/// came sooner after CloudFormation sent it than Lambda runs an event again. Without the time
/// it was sent, that cannot be told. (Lambda's queue may also, rarely, hand the same event
/// over twice at about the same time; nothing tells that apart.)
pub fn first_run(signed: Signed, now: SystemTime) -> bool {
    signed.at.is_some_and(|at| {
        now.duration_since(at)
            .map_or(true, |ago| ago < SOONEST_RETRY)
    })
}

/// When CloudFormation stops waiting for the answer to an event whose ResponseURL was
/// `signed` so, with `service_timeout` (CloudFormation's default when `None`), if the URL says
/// when it was signed.
pub fn waits_until(signed: Signed, service_timeout: Option<Duration>) -> Option<SystemTime> {
    let service_timeout = service_timeout.unwrap_or(DEFAULT_SERVICE_TIMEOUT);
    signed.at?.checked_add(service_timeout)
}

/// Whether CloudFormation has stopped waiting for the answer to an event whose ResponseURL
/// was `signed` so, with `service_timeout` (CloudFormation's default when `None`), at `now`.
pub fn stopped_waiting(
    signed: Signed,
    service_timeout: Option<Duration>,
    now: SystemTime,
) -> Option<Late> {
    let service_timeout = service_timeout.unwrap_or(DEFAULT_SERVICE_TIMEOUT);
    if let Some(sent_ago) = signed.at.and_then(|at| now.duration_since(at).ok()) {
        if sent_ago > service_timeout + GRACE {
            return Some(Late::PastServiceTimeout {
                sent_ago,
                service_timeout,
            });
        }
    }
    let ago = signed
        .until
        .and_then(|until| now.duration_since(until).ok())?;
    (ago > GRACE).then_some(Late::UrlExpired { ago })
}

/// Reads SigV4's `X-Amz-Date`: `YYYYMMDD'T'HHMMSS'Z'`, in UTC.
pub fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = text.get(range)?;
        digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let (year, month, day) = (number(0..4)?, number(4..6)?, number(6..8)?);
    let (hour, minute, second) = (number(9..11)?, number(11..13)?, number(13..15)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 || year < 1970 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + u64::from(hour * 3600 + minute * 60 + second);
    Some(UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Days from 1970-01-01 to a date of 1970 or later (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: u32, month: u32, day: u32) -> u64 {
    let year = u64::from(if month <= 2 { year - 1 } else { year });
    let (era, year_of_era) = (year / 400, year % 400);
    let month_from_march = u64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + u64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// A duration as people read it in a Reason: "1 h 5 min", "12 min", "40 s".
fn minutes(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match (seconds / 3600, seconds % 3600 / 60) {
        (0, 0) => format!("{seconds} s"),
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        parse_amz_date(text).unwrap()
    }

    #[test]
    fn reads_amz_dates_as_utc() {
        assert_eq!(at("19700101T000000Z"), UNIX_EPOCH);
        // `date -u -d 2026-12-07T07:15:30Z +%s`
        let seconds = at("20261207T071530Z").duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(seconds.as_secs(), 1_796_627_730);
        // A leap day, and the day after.
        let leap = at("20240229T000000Z").duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(leap.as_secs(), 1_709_164_800);
        assert_eq!(
            at("20240301T000000Z")
                .duration_since(at("20240229T000000Z"))
                .ok(),
            Some(Duration::from_secs(86_400))
        );
        // The last second of a day, and a leap second.
        assert!(parse_amz_date("20261207T235959Z").is_some());
        assert_eq!(
            at("20161231T235960Z")
                .duration_since(at("20161231T235959Z"))
                .ok(),
            Some(Duration::from_secs(1))
        );
        for bad in [
            "",
            "20261207T071530",
            "2026-12-07T07:15:30Z",
            "20261207 071530Z",
            "20261207T071530+",
            "20261307T071530Z",
            "20261207T251530Z",
            "20261207T240000Z",
            "20261207T076000Z",
            "20261207T071561Z",
            "2026120+T071530Z",
            "19691231T235959Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_event_past_its_service_timeout_is_late() {
        let sent = at("20261207T070000Z");
        let signed = Signed {
            at: Some(sent),
            until: Some(sent + Duration::from_secs(7200)),
        };
        let after = |seconds| sent + Duration::from_secs(seconds);
        // The default hour, and the grace on top.
        assert_eq!(stopped_waiting(signed, None, after(3600 + 60)), None);
        assert_eq!(
            stopped_waiting(signed, None, after(3600 + 61)),
            Some(Late::PastServiceTimeout {
                sent_ago: Duration::from_secs(3661),
                service_timeout: Duration::from_secs(3600),
            })
        );
        // A shorter ServiceTimeout.
        let ten_minutes = Some(Duration::from_secs(600));
        assert_eq!(stopped_waiting(signed, ten_minutes, after(659)), None);
        assert!(stopped_waiting(signed, ten_minutes, after(661)).is_some());
        // Signed later than this clock says it is: not late.
        assert_eq!(
            stopped_waiting(signed, None, sent - Duration::from_secs(60)),
            None
        );
    }

    #[test]
    fn a_url_that_says_only_when_it_expires_is_late_after_that() {
        let until = at("20261207T090000Z");
        let signed = Signed {
            at: None,
            until: Some(until),
        };
        assert_eq!(stopped_waiting(signed, None, until), None);
        assert_eq!(
            stopped_waiting(signed, None, until + GRACE),
            None,
            "a minute's grace"
        );
        assert_eq!(
            stopped_waiting(signed, None, until + Duration::from_secs(61)),
            Some(Late::UrlExpired {
                ago: Duration::from_secs(61)
            })
        );
        let never = Signed::default();
        assert_eq!(stopped_waiting(never, None, SystemTime::now()), None);
        assert_eq!(waits_until(signed, None), None, "no time it was sent");
    }

    #[test]
    fn only_an_event_that_came_within_a_minute_is_surely_a_first_run() {
        let sent = at("20261207T070000Z");
        let signed = Signed {
            at: Some(sent),
            until: None,
        };
        assert!(first_run(signed, sent + Duration::from_secs(2)));
        assert!(
            first_run(signed, sent - Duration::from_secs(2)),
            "clocks apart"
        );
        assert!(!first_run(signed, sent + Duration::from_secs(50)));
        assert!(!first_run(Signed::default(), sent), "no time it was sent");
    }

    #[test]
    fn cloudformation_waits_its_service_timeout_from_the_signature() {
        let sent = at("20261207T070000Z");
        let signed = Signed {
            at: Some(sent),
            until: None,
        };
        assert_eq!(waits_until(signed, None), Some(at("20261207T080000Z")));
        let ten_minutes = Some(Duration::from_secs(600));
        assert_eq!(
            waits_until(signed, ten_minutes),
            Some(at("20261207T071000Z"))
        );
    }

    #[test]
    fn the_reason_says_how_late_and_that_nothing_changed() {
        let late = Late::PastServiceTimeout {
            sent_ago: Duration::from_secs(3 * 3600 + 5 * 60 + 7),
            service_timeout: Duration::from_secs(3600),
        };
        let reason = late.to_string();
        assert!(reason.contains("came 3 h 5 min after"), "{reason}");
        assert!(reason.contains("waits 1 h for the answer"), "{reason}");
        assert!(reason.contains("nothing was changed"), "{reason}");
        assert_eq!(minutes(Duration::from_secs(40)), "40 s");
        assert_eq!(minutes(Duration::from_secs(600)), "10 min");
    }
}
