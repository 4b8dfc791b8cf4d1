//! Host names to socket addresses for the HTTP agent, without a thread per
//! call: each host's addresses are kept for [`TTL`] and looked up once for
//! all the calls that need them meanwhile.
//!
//! ureq resolves the host of every call, even one that goes out on a pooled
//! connection, and with a timeout set (the relay always sets one) it does so
//! on a thread of its own, so that a hung look-up cannot outlive the call.
//! At a few hundred GTI calls a second that is a few hundred threads
//! started and torn down a second, for the same handful of hosts (three
//! GTI APIs per region, a JWKS host or two). Here a host's first call (or
//! the first after its addresses grew stale) makes ureq's look-up, timeout
//! and thread included; every other call reuses its answer.
//!
//! What does not change: a look-up that fails is not kept, so every call
//! that needs the host meanwhile sees the error a look-up of its own would
//! give (the next call looks up again); a call never waits past its own
//! time limit for another call's look-up. While one call refreshes stale
//! addresses, the others use the stale ones rather than wait: DNS answers
//! outlive their TTL by a few seconds anyway, and GTI's hosts do not move
//! in that time.
//!
//! Bounds: at most [`MAX_HOSTS`] hosts are kept (the least recently looked
//! up goes first); a burst of calls to a new host starts one look-up.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use crate::sync::{lock, recover};

/// How long a host's addresses are used before they are looked up again:
/// the TTL of the cloud load balancers GTI's hosts sit behind is about a
/// minute, so a move is followed within a minute and a half.
pub const TTL: Duration = Duration::from_secs(30);

/// The most hosts kept: the relay talks to six GTI hosts over two regions
/// and the JWKS hosts its allow-list admits; more means the bound is
/// working, not that the cache must grow.
pub const MAX_HOSTS: usize = 32;

/// [`Resolver`] that keeps each host's addresses for [`TTL`], resolving
/// through `R` (ureq's own resolver in production).
pub struct CachingResolver<R = DefaultResolver> {
    inner: R,
    ttl: Duration,
    hosts: Mutex<HashMap<String, Slot>>,
    /// Told when a first look-up ends (its host's waiters wake).
    settled: Condvar,
}

/// What is known of one host.
// The addresses are a fixed array of 16: boxing them would cost an
// allocation per call to save a few hundred bytes on at most 32 hosts.
#[allow(clippy::large_enum_variant)]
enum Slot {
    /// Its first look-up is under way; nothing is known yet.
    Resolving,
    Known {
        addrs: ResolvedSocketAddrs,
        fetched: Instant,
        /// Whether a call is looking it up again (the others use `addrs`).
        refreshing: bool,
    },
}

/// What the cache tells a call to do.
#[allow(clippy::large_enum_variant)] // as `Slot`: one value on the stack
enum Step {
    Use(ResolvedSocketAddrs),
    /// Look the host up (first, or again now that its addresses are stale).
    LookUp,
    /// The cache is full of hosts being looked up: resolve without it.
    Bypass,
}

impl CachingResolver {
    /// The resolver the relay's agent uses: ureq's, kept for [`TTL`].
    pub fn new() -> Self {
        Self::over(DefaultResolver::default(), TTL)
    }
}

impl Default for CachingResolver {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: Resolver> CachingResolver<R> {
    /// A cache in front of `inner` that keeps addresses for `ttl`.
    pub fn over(inner: R, ttl: Duration) -> Self {
        CachingResolver {
            inner,
            ttl,
            hosts: Mutex::new(HashMap::new()),
            settled: Condvar::new(),
        }
    }

    /// What `key`'s call does, waiting (at most until `deadline`) while
    /// another call makes the host's first look-up.
    fn step(&self, key: &str, deadline: Option<Instant>) -> Result<Step, ureq::Error> {
        let mut hosts = lock(&self.hosts);
        loop {
            match hosts.get_mut(key) {
                Some(Slot::Known {
                    addrs,
                    fetched,
                    refreshing,
                }) => {
                    if fetched.elapsed() < self.ttl || *refreshing {
                        return Ok(Step::Use(addrs.clone()));
                    }
                    *refreshing = true;
                    return Ok(Step::LookUp);
                }
                Some(Slot::Resolving) => {
                    hosts = match deadline {
                        None => recover(self.settled.wait(hosts)),
                        Some(deadline) => {
                            let left = deadline.saturating_duration_since(Instant::now());
                            if left.is_zero() {
                                return Err(ureq::Error::Timeout(ureq::Timeout::Resolve));
                            }
                            recover(self.settled.wait_timeout(hosts, left)).0
                        }
                    };
                }
                None => {
                    if hosts.len() >= MAX_HOSTS && !evict_oldest(&mut hosts) {
                        return Ok(Step::Bypass);
                    }
                    hosts.insert(key.to_owned(), Slot::Resolving);
                    return Ok(Step::LookUp);
                }
            }
        }
    }

    /// Records the end of `key`'s look-up: its addresses, or on a failure
    /// nothing (the next call looks up again).
    fn settle(&self, key: &str, looked_up: &Result<ResolvedSocketAddrs, ureq::Error>) {
        let mut hosts = lock(&self.hosts);
        match looked_up {
            Ok(addrs) => {
                let slot = Slot::Known {
                    addrs: addrs.clone(),
                    fetched: Instant::now(),
                    refreshing: false,
                };
                hosts.insert(key.to_owned(), slot);
            }
            Err(_) => {
                hosts.remove(key);
            }
        }
        drop(hosts);
        self.settled.notify_all();
    }
}

/// Drops the host looked up longest ago (never one being looked up for the
/// first time: its callers wait for it); false when there is none.
fn evict_oldest(hosts: &mut HashMap<String, Slot>) -> bool {
    let oldest = hosts
        .iter()
        .filter_map(|(key, slot)| match slot {
            Slot::Known { fetched, .. } => Some((*fetched, key)),
            Slot::Resolving => None,
        })
        .min()
        .map(|(_, key)| key.clone());
    oldest.is_some_and(|key| hosts.remove(&key).is_some())
}

impl<R: Resolver> Resolver for CachingResolver<R> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        // A URI without a host (or an unknown scheme) is the inner
        // resolver's to refuse, with its own error.
        let Some(key) = uri
            .scheme()
            .zip(uri.authority())
            .and_then(|(scheme, authority)| DefaultResolver::host_and_port(scheme, authority))
        else {
            return self.inner.resolve(uri, config, timeout);
        };
        let deadline = (!timeout.after.is_not_happening())
            .then(|| Instant::now().checked_add(*timeout.after))
            .flatten();
        match self.step(&key, deadline)? {
            Step::Use(addrs) => Ok(addrs),
            Step::Bypass => self.inner.resolve(uri, config, timeout),
            Step::LookUp => {
                // The time spent waiting for another call's look-up is
                // taken from this one's.
                let timeout = match deadline {
                    Some(deadline) => NextTimeout {
                        after: deadline.saturating_duration_since(Instant::now()).into(),
                        ..timeout
                    },
                    None => timeout,
                };
                let looked_up = self.inner.resolve(uri, config, timeout);
                // A failed look-up leaves nothing behind, stale addresses
                // included: this call fails as it would without the cache,
                // and the next one looks up again.
                self.settle(&key, &looked_up);
                looked_up
            }
        }
    }
}

impl<R: std::fmt::Debug> std::fmt::Debug for CachingResolver<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts = lock(&self.hosts).len();
        f.debug_struct("CachingResolver")
            .field("inner", &self.inner)
            .field("ttl", &self.ttl)
            .field("hosts", &hosts)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::sync::Arc;

    use super::*;

    /// An inner resolver that counts its look-ups, answers them from
    /// `answers` in turn (an `Err` as a host not found), and can hold them
    /// until told (`gate`), telling when one starts (`started`).
    #[derive(Debug, Default)]
    struct Scripted {
        calls: AtomicUsize,
        answers: Vec<Result<&'static str, ()>>,
        gate: Option<Mutex<mpsc::Receiver<()>>>,
        started: Option<Mutex<mpsc::Sender<()>>>,
    }

    impl Resolver for Scripted {
        fn resolve(
            &self,
            _uri: &Uri,
            _config: &Config,
            _timeout: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            if let Some(started) = &self.started {
                lock(started).send(()).unwrap();
            }
            if let Some(gate) = &self.gate {
                lock(gate).recv().unwrap();
            }
            let answer = self.answers.get(call).or(self.answers.last());
            let address: SocketAddr = answer
                .and_then(|answer| answer.ok())
                .ok_or(ureq::Error::HostNotFound)?
                .parse()
                .unwrap();
            let mut addrs = self.empty();
            addrs.push(address);
            Ok(addrs)
        }
    }

    fn scripted(answers: Vec<Result<&'static str, ()>>) -> Scripted {
        Scripted {
            answers,
            ..Scripted::default()
        }
    }

    fn look_up<R: Resolver>(
        resolver: &CachingResolver<R>,
        url: &str,
        within: Option<Duration>,
    ) -> Result<Vec<SocketAddr>, ureq::Error> {
        let uri: Uri = url.parse().unwrap();
        let config = ureq::Agent::config_builder().build();
        let timeout = NextTimeout {
            after: within.map_or(
                ureq::unversioned::transport::time::Duration::NotHappening,
                Into::into,
            ),
            ..NextTimeout::default()
        };
        let addrs = resolver.resolve(&uri, &config, timeout)?;
        Ok(addrs.iter().copied().collect())
    }

    /// The look-ups `resolver` asked of its inner resolver.
    fn calls(resolver: &CachingResolver<Scripted>) -> usize {
        resolver.inner.calls.load(Ordering::SeqCst)
    }

    const ANSWER: &str = "192.0.2.7:443";

    #[test]
    fn concurrent_calls_to_one_host_make_one_look_up() {
        let resolver = Arc::new(CachingResolver::over(scripted(vec![Ok(ANSWER)]), TTL));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let resolver = Arc::clone(&resolver);
                std::thread::spawn(move || {
                    look_up(&resolver, "https://detections.test/v1/x", Some(TTL))
                })
            })
            .collect();
        for thread in threads {
            let addrs = thread.join().unwrap().unwrap();
            assert_eq!(addrs, [ANSWER.parse().unwrap()]);
        }
        assert_eq!(calls(&resolver), 1);
        // Another port is another key (ureq connects to host and port).
        look_up(&resolver, "https://detections.test:8443/v1/x", None).unwrap();
        assert_eq!(calls(&resolver), 2);
    }

    #[test]
    fn stale_addresses_are_looked_up_again() {
        let inner = scripted(vec![Ok(ANSWER), Ok("192.0.2.8:443")]);
        let resolver = CachingResolver::over(inner, Duration::ZERO);
        let url = "https://entity.test/v1/";
        assert_eq!(
            look_up(&resolver, url, None).unwrap(),
            [ANSWER.parse().unwrap()]
        );
        let moved = look_up(&resolver, url, None).unwrap();
        assert_eq!(moved, ["192.0.2.8:443".parse().unwrap()]);
        assert_eq!(calls(&resolver), 2);
    }

    #[test]
    fn a_failed_look_up_is_not_kept() {
        let inner = scripted(vec![Err(()), Ok(ANSWER), Err(())]);
        let resolver = CachingResolver::over(inner, Duration::ZERO);
        let url = "https://events.test/v2/query";
        let failed = look_up(&resolver, url, None).unwrap_err();
        assert!(matches!(failed, ureq::Error::HostNotFound), "{failed}");
        assert!(look_up(&resolver, url, None).is_ok());
        // A failed refresh fails its call and forgets the stale addresses.
        assert!(look_up(&resolver, url, None).is_err());
        assert!(lock(&resolver.hosts).is_empty());
        assert_eq!(calls(&resolver), 3);
    }

    #[test]
    fn a_call_waits_for_another_calls_look_up_no_longer_than_its_own_limit() {
        let (release, gate) = mpsc::channel();
        let (started, starts) = mpsc::channel();
        let inner = Scripted {
            answers: vec![Ok(ANSWER)],
            gate: Some(Mutex::new(gate)),
            started: Some(Mutex::new(started)),
            ..Scripted::default()
        };
        let resolver = Arc::new(CachingResolver::over(inner, TTL));
        let url = "https://detections.test/v1/";
        let first = {
            let resolver = Arc::clone(&resolver);
            std::thread::spawn(move || look_up(&resolver, url, None))
        };
        starts.recv().unwrap();
        let waited = look_up(&resolver, url, Some(Duration::from_millis(20))).unwrap_err();
        assert!(
            matches!(waited, ureq::Error::Timeout(ureq::Timeout::Resolve)),
            "{waited}"
        );
        release.send(()).unwrap();
        assert!(first.join().unwrap().is_ok());
        assert!(look_up(&resolver, url, Some(Duration::ZERO)).is_ok());
        assert_eq!(calls(&resolver), 1);
    }

    #[test]
    fn the_hosts_kept_are_bounded_and_the_oldest_goes_first() {
        let resolver = CachingResolver::over(scripted(vec![Ok(ANSWER)]), TTL);
        for host in 0..MAX_HOSTS + 5 {
            look_up(&resolver, &format!("https://h{host}.test/"), None).unwrap();
        }
        assert_eq!(lock(&resolver.hosts).len(), MAX_HOSTS);
        let looked_up = calls(&resolver);
        look_up(&resolver, &format!("https://h{MAX_HOSTS}.test/"), None).unwrap();
        assert_eq!(calls(&resolver), looked_up, "a recent host is kept");
        look_up(&resolver, "https://h0.test/", None).unwrap();
        assert_eq!(calls(&resolver), looked_up + 1, "the oldest went");
    }

    #[test]
    fn a_uri_without_a_host_is_the_inner_resolvers_to_refuse() {
        let resolver = CachingResolver::new();
        let refused = look_up(&resolver, "/only/a/path", None).unwrap_err();
        assert!(matches!(refused, ureq::Error::BadUri(_)), "{refused}");
        assert!(lock(&resolver.hosts).is_empty());
    }
}
