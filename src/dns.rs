//! Host-name look-ups for the HTTP client, started before the requests that need them.
//!
//! A look-up blocks (glibc's `getaddrinfo`: the resolver's configuration files, then a query
//! to Lambda's resolver), so it runs on a thread of tokio's blocking pool, as reqwest's own
//! resolver runs it, and a request to a host it has no connection to waits for it. The hosts
//! are known sooner: EKS's from the environment at start-up, while the runtime asks for the
//! first event, and S3's as soon as an event is read, while its EKS calls run.
//! [`Resolver::look_up_ahead`] starts a look-up then, and the request that needs the host
//! takes its result, so that the wait overlaps with work that happens anyway.
//!
//! A look-up made ahead serves one request, and only within five seconds of starting: it is
//! not a cache, and its answer is at most that much older than the request's own look-up's
//! would have been. A request that finds none, or finds one that failed, looks the host up
//! itself, as without this module. Starting a look-up ahead never fails or panics: one that
//! cannot be started is left to the request, whose own look-up is then an error (which the
//! request reports, and a response PUT tries again), not a panic.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::hash_map::{Entry, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::debug;

/// How long after it started a look-up made ahead may still be used. S3 changes the
/// addresses of its endpoints in DNS as it needs to, and expects clients to look them up
/// again; a look-up is made ahead by moments (the first `/next`, an event's EKS calls), and
/// one older than this is better made again.
const FRESH_FOR: Duration = Duration::from_secs(5);

type LookUp = Arc<dyn Fn(&str) -> io::Result<Vec<SocketAddr>> + Send + Sync>;
type Started = (Instant, JoinHandle<io::Result<Vec<SocketAddr>>>);

/// The HTTP client's resolver: looks a host up on tokio's blocking pool, or takes the
/// look-up started ahead for it.
pub struct Resolver {
    ahead: Mutex<HashMap<String, Started>>,
    look_up: LookUp,
    fresh_for: Duration,
}

impl Default for Resolver {
    /// Looks hosts up with the system's resolver (`getaddrinfo`).
    fn default() -> Resolver {
        Resolver::new(
            Arc::new(|host| Ok((host, 0).to_socket_addrs()?.collect())),
            FRESH_FOR,
        )
    }
}

impl Resolver {
    fn new(look_up: LookUp, fresh_for: Duration) -> Resolver {
        Resolver {
            ahead: Mutex::default(),
            look_up,
            fresh_for,
        }
    }

    /// Starts looking `host` up for a request to it that will follow soon. Nothing is done
    /// for an IP address, which needs no look-up, for a host already being looked up, or
    /// outside a tokio runtime.
    pub fn look_up_ahead(&self, host: &str) {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let no_pool = tokio::runtime::Handle::try_current().is_err();
        if host.is_empty() || host.parse::<IpAddr>().is_ok() || no_pool {
            return;
        }
        let host = host.to_ascii_lowercase();
        let now = Instant::now();
        let mut ahead = self.lock();
        // Those no request took: nothing will.
        ahead.retain(|_, (started, _)| now.duration_since(*started) < self.fresh_for);
        if let Entry::Vacant(entry) = ahead.entry(host) {
            // tokio panics when its blocking pool has no thread and the system starts none.
            // A look-up ahead must not end the event for that: the request's own look-up,
            // inside the request, is where such a failure was met before.
            let (look_up, host) = (self.look_up.clone(), entry.key().clone());
            let started = catch_unwind(AssertUnwindSafe(|| look_up_on_pool(look_up, host)));
            if let Ok(pending) = started {
                entry.insert((now, pending));
            }
        }
    }

    /// The look-up started ahead for `host`, if it is still fresh.
    fn take(&self, host: &str) -> Option<JoinHandle<io::Result<Vec<SocketAddr>>>> {
        let (started, pending) = self.lock().remove(&host.to_ascii_lowercase())?;
        (started.elapsed() < self.fresh_for).then_some(pending)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Started>> {
        self.ahead.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let ahead = self.take(&host);
        let look_up = self.look_up.clone();
        Box::pin(async move {
            if let Some(pending) = ahead {
                match pending.await {
                    Ok(Ok(addresses)) if !addresses.is_empty() => {
                        debug!(host, "addresses from the look-up made ahead");
                        return Ok(Box::new(addresses.into_iter()) as Addrs);
                    }
                    // It failed or found nothing, perhaps a moment too soon: ask again.
                    _ => debug!(
                        host,
                        "the look-up made ahead found nothing; looking up again"
                    ),
                }
            } else {
                debug!(host, "looking up");
            }
            // As for a look-up ahead: a request that cannot look its host up fails (and is
            // tried again, as the response PUT is), rather than panic through the event.
            let pending = catch_unwind(AssertUnwindSafe(|| look_up_on_pool(look_up, host)))
                .map_err(|_| io::Error::other("no thread to look the host up on"))?;
            let addresses = pending.await??;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// Runs `look_up` for `host` on tokio's blocking pool. Addresses come with port 0: the
/// connector sets the URL's.
fn look_up_on_pool(look_up: LookUp, host: String) -> JoinHandle<io::Result<Vec<SocketAddr>>> {
    tokio::task::spawn_blocking(move || look_up(&host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A resolver whose look-ups are counted, answered by `answer` (given the count so far).
    fn counted(
        fresh_for: Duration,
        answer: fn(usize) -> io::Result<Vec<SocketAddr>>,
    ) -> (Resolver, Arc<AtomicUsize>) {
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        let look_up: LookUp =
            Arc::new(move |_host: &str| answer(counter.fetch_add(1, Ordering::SeqCst)));
        (Resolver::new(look_up, fresh_for), count)
    }

    fn address(last: u8) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, last], 0))
    }

    fn numbered(n: usize) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![address(n as u8 + 1)])
    }

    async fn resolve(resolver: &Resolver, host: &str) -> Result<Vec<SocketAddr>, String> {
        let name: Name = host.parse().map_err(|_| "a name".to_owned())?;
        match resolver.resolve(name).await {
            Ok(addresses) => Ok(addresses.collect()),
            Err(error) => Err(error.to_string()),
        }
    }

    /// Waits until `count` look-ups have run, so that a test knows one started ahead has.
    async fn until(count: &AtomicUsize, n: usize) {
        for _ in 0..5000 {
            if count.load(Ordering::SeqCst) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!(
            "{n} look-ups expected, {} made",
            count.load(Ordering::SeqCst)
        );
    }

    /// tokio's `spawn_blocking` panics when no thread can run the look-up; outside a runtime
    /// it panics alike. The request's look-up is then an error, which the request reports.
    #[test]
    fn a_look_up_that_cannot_start_is_an_error_not_a_panic() {
        let (resolver, count) = counted(FRESH_FOR, numbered);
        let name: Name = "bucket.s3.amazonaws.com".parse().unwrap();
        let mut resolving = resolver.resolve(name);
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        match resolving.as_mut().poll(&mut context) {
            std::task::Poll::Ready(Err(error)) => {
                assert!(error.to_string().contains("no thread"), "{error}")
            }
            std::task::Poll::Ready(Ok(_)) => panic!("resolved without a look-up"),
            std::task::Poll::Pending => panic!("a look-up started outside a runtime"),
        }
        assert_eq!(count.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_host_looked_up_ahead_is_not_looked_up_again_by_its_request() {
        // Fresh for a minute: a slow start of the look-up must not make it stale here.
        let (resolver, count) = counted(Duration::from_secs(60), numbered);
        resolver.look_up_ahead("EKS.us-east-1.amazonaws.com");
        until(&count, 1).await;
        let addresses = resolve(&resolver, "eks.us-east-1.amazonaws.com").await;
        assert_eq!(addresses, Ok(vec![address(1)]));
        assert_eq!(
            count.load(Ordering::SeqCst),
            1,
            "the request took the look-up made ahead"
        );
    }

    #[tokio::test]
    async fn a_look_up_made_ahead_serves_one_request_only() {
        let (resolver, count) = counted(FRESH_FOR, numbered);
        resolver.look_up_ahead("bucket.s3.amazonaws.com");
        assert_eq!(
            resolve(&resolver, "bucket.s3.amazonaws.com").await,
            Ok(vec![address(1)])
        );
        assert_eq!(
            resolve(&resolver, "bucket.s3.amazonaws.com").await,
            Ok(vec![address(2)])
        );
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_stale_look_up_made_ahead_is_not_used_and_not_kept() {
        let (resolver, count) = counted(Duration::ZERO, numbered);
        resolver.look_up_ahead("bucket.s3.amazonaws.com");
        until(&count, 1).await;
        assert_eq!(
            resolve(&resolver, "bucket.s3.amazonaws.com").await,
            Ok(vec![address(2)])
        );
        resolver.look_up_ahead("a.example");
        resolver.look_up_ahead("b.example");
        let kept: Vec<String> = resolver.lock().keys().cloned().collect();
        assert_eq!(kept, ["b.example"], "a.example, never taken, was dropped");
    }

    #[tokio::test]
    async fn a_failed_look_up_made_ahead_is_made_again_by_its_request() {
        let (resolver, count) = counted(FRESH_FOR, |n| match n {
            0 => Err(io::Error::other("temporary failure in name resolution")),
            _ => numbered(n),
        });
        resolver.look_up_ahead("eks.us-east-1.amazonaws.com");
        until(&count, 1).await;
        let addresses = resolve(&resolver, "eks.us-east-1.amazonaws.com").await;
        assert_eq!(addresses, Ok(vec![address(2)]));
        let (resolver, count) = counted(FRESH_FOR, |n| match n {
            0 => Ok(Vec::new()),
            _ => numbered(n),
        });
        resolver.look_up_ahead("eks.us-east-1.amazonaws.com");
        until(&count, 1).await;
        let addresses = resolve(&resolver, "eks.us-east-1.amazonaws.com").await;
        assert_eq!(
            addresses,
            Ok(vec![address(2)]),
            "no addresses: looked up again"
        );
    }

    #[tokio::test]
    async fn a_request_without_a_look_up_made_ahead_looks_up_its_own_host() {
        let (resolver, count) = counted(FRESH_FOR, numbered);
        resolver.look_up_ahead("a.example");
        until(&count, 1).await;
        assert_eq!(resolve(&resolver, "b.example").await, Ok(vec![address(2)]));
        let (failing, _) = counted(FRESH_FOR, |_| Err(io::Error::other("no such host")));
        let error = resolve(&failing, "b.example").await.expect_err("a failure");
        assert!(error.contains("no such host"), "{error}");
    }

    #[tokio::test]
    async fn addresses_and_empty_hosts_are_not_looked_up() {
        let (resolver, count) = counted(FRESH_FOR, numbered);
        for host in ["127.0.0.1", "[::1]", "::1", ""] {
            resolver.look_up_ahead(host);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(count.load(Ordering::SeqCst), 0);
        assert_eq!(resolver.lock().len(), 0);
    }

    #[test]
    fn outside_a_runtime_nothing_is_looked_up_ahead() {
        let (resolver, count) = counted(FRESH_FOR, numbered);
        resolver.look_up_ahead("a.example");
        assert_eq!(resolver.lock().len(), 0);
        assert_eq!(count.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn the_system_resolver_finds_localhost() {
        let resolver = Resolver::default();
        resolver.look_up_ahead("localhost");
        let addresses = resolve(&resolver, "localhost").await.expect("localhost");
        assert!(
            addresses.iter().all(|a| a.ip().is_loopback()),
            "{addresses:?}"
        );
        assert!(!addresses.is_empty());
    }
}
