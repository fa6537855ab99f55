//! "Handled before?": Cobo may deliver a webhook event more than once (retries, and duplicates
//! even after a 200), so an app handles each `event_id` once, and must never lose one.
//!
//! Claim, handle, complete: [`Deduplicator::claim`] takes a short lease on the event (one
//! replica wins it), the handler runs while the lease is renewed, and
//! [`Deduplicator::complete`] marks it handled for a long time ([`DEFAULT_DEDUP_TTL`]). A
//! delivery that finds the event claimed answers non-2xx (Cobo retries later), one that finds
//! it completed answers 200. A failed handler releases its claim at once; a crashed process or a
//! dropped handler future leaves a claim that lapses with its lease, and the next delivery
//! handles the event. [`ClaimRunner`](super::ClaimRunner) does all of it around a handler.
//!
//! [`MemoryDeduplicator`] is for one process (bounded: the oldest IDs are forgotten first, and
//! a completed one after a time to live); `RedisDeduplicator` (feature `redis`) is for a fleet.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;

/// Why the deduplicator could not answer (Redis unreachable, ...). Answer Cobo with a 5XX so it
/// retries, rather than guessing.
#[derive(Debug, thiserror::Error)]
#[error("the deduplicator could not answer: {reason}")]
pub struct DedupError {
    /// What failed.
    pub reason: String,
}

/// Proof of a claim: renew, complete or release only with it (a lapsed claim taken over by
/// another delivery is that one's).
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimToken(String);

impl ClaimToken {
    /// A new random token.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    /// The token, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClaimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClaimToken(..)")
    }
}

/// What [`Deduplicator::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This delivery holds the event for the lease: handle it, then complete or release.
    Claimed(ClaimToken),
    /// Another delivery holds it now: answer non-2xx (Cobo retries later).
    InProgress,
    /// It was handled: answer 200 and do nothing.
    Completed,
}

/// The future of a [`Deduplicator`] call.
pub type DedupFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DedupError>> + Send + 'a>>;

/// Claims, renews, completes and releases event IDs, atomically: of two concurrent claims of
/// one ID, one gets [`Claim::Claimed`].
pub trait Deduplicator: Send + Sync {
    /// Claims `event_id` for `lease`, unless it is claimed (and the claim has not lapsed) or
    /// completed.
    fn claim<'a>(&'a self, event_id: &'a str, lease: Duration) -> DedupFuture<'a, Claim>;
    /// Extends the claim of `token` by `lease` from now; `false` when it is no longer held
    /// (lapsed, and maybe taken by another delivery).
    fn renew<'a>(
        &'a self,
        event_id: &'a str,
        token: &'a ClaimToken,
        lease: Duration,
    ) -> DedupFuture<'a, bool>;
    /// Marks `event_id` handled (for the deduplicator's time to live), if `token` holds it or
    /// nobody does; `false` when another delivery holds it now.
    fn complete<'a>(&'a self, event_id: &'a str, token: &'a ClaimToken) -> DedupFuture<'a, bool>;
    /// Releases the claim of `token` (its handling failed: the next delivery handles it).
    fn release<'a>(&'a self, event_id: &'a str, token: &'a ClaimToken) -> DedupFuture<'a, ()>;
}

/// The default number of IDs a [`MemoryDeduplicator`] remembers.
pub const DEFAULT_MEMORY_CAPACITY: usize = 100_000;
/// The default time a completed ID is remembered: Cobo's retries of one event span about a day.
pub const DEFAULT_DEDUP_TTL: Duration = Duration::from_secs(3 * 24 * 3600);

/// Event IDs in memory, at most `capacity` of them, a completed one for `ttl`.
#[derive(Debug)]
pub struct MemoryDeduplicator {
    capacity: usize,
    ttl: Duration,
    ids: Mutex<Ids>,
}

/// The state of one ID.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Claimed by `token` until `until`.
    Claimed { token: ClaimToken, until: Instant },
    /// Completed (at the entry's `since`).
    Completed,
}

#[derive(Debug)]
struct Entry {
    state: State,
    /// When the entry was written (its place in `order`).
    since: Instant,
}

#[derive(Debug, Default)]
struct Ids {
    at: HashMap<String, Entry>,
    /// IDs in writing order (may hold IDs rewritten or forgotten since; `at` decides).
    order: VecDeque<(String, Instant)>,
}

impl Ids {
    /// Drops the oldest IDs while `drop(entry, how_many_remembered)` says so.
    fn drop_oldest_while(&mut self, drop: impl Fn(&Entry, usize) -> bool) {
        while let Some((id, at)) = self.order.front() {
            let current = self.at.get(id).filter(|entry| entry.since == *at);
            if let Some(entry) = current {
                if !drop(entry, self.at.len()) {
                    break;
                }
                self.at.remove(id);
            }
            self.order.pop_front();
        }
    }

    fn write(&mut self, capacity: usize, event_id: &str, state: State, now: Instant) {
        if !self.at.contains_key(event_id) {
            self.drop_oldest_while(|_, len| len >= capacity);
        }
        if self.order.len() > capacity.saturating_mul(2) {
            // Many rewritten IDs linger in `order`: rebuild it from `at`.
            let mut order: Vec<_> = self.at.iter().map(|(k, v)| (k.clone(), v.since)).collect();
            order.sort_by_key(|(_, at)| *at);
            self.order = order.into();
        }
        let entry = Entry { state, since: now };
        self.at.insert(event_id.to_owned(), entry);
        self.order.push_back((event_id.to_owned(), now));
    }

    fn holds(&self, event_id: &str, token: &ClaimToken, now: Instant) -> bool {
        matches!(
            self.at.get(event_id).map(|entry| &entry.state),
            Some(State::Claimed { token: held, until }) if held == token && *until > now
        )
    }
}

impl Default for MemoryDeduplicator {
    fn default() -> Self {
        Self::new(DEFAULT_MEMORY_CAPACITY, DEFAULT_DEDUP_TTL)
    }
}

impl MemoryDeduplicator {
    /// Remembers at most `capacity` IDs (at least one), a completed one for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity: capacity.max(1),
            ttl,
            ids: Mutex::new(Ids::default()),
        }
    }

    fn ids(&self) -> std::sync::MutexGuard<'_, Ids> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// [`Deduplicator::claim`], synchronous.
    pub fn claim_now(&self, event_id: &str, lease: Duration) -> Claim {
        let now = Instant::now();
        let mut ids = self.ids();
        let ttl = self.ttl;
        let lapsed = |entry: &Entry| match &entry.state {
            State::Completed => now.duration_since(entry.since) >= ttl,
            State::Claimed { until, .. } => *until <= now,
        };
        ids.drop_oldest_while(|entry, _| lapsed(entry));
        match ids.at.get(event_id) {
            Some(entry) if lapsed(entry) => {}
            Some(Entry {
                state: State::Completed,
                ..
            }) => return Claim::Completed,
            Some(_) => return Claim::InProgress,
            None => {}
        }
        let token = ClaimToken::generate();
        let until = now + lease;
        let state = State::Claimed {
            token: token.clone(),
            until,
        };
        ids.write(self.capacity, event_id, state, now);
        Claim::Claimed(token)
    }

    /// [`Deduplicator::renew`], synchronous.
    pub fn renew_now(&self, event_id: &str, token: &ClaimToken, lease: Duration) -> bool {
        let now = Instant::now();
        let mut ids = self.ids();
        if !ids.holds(event_id, token, now) {
            return false;
        }
        if let Some(Entry {
            state: State::Claimed { until, .. },
            ..
        }) = ids.at.get_mut(event_id)
        {
            *until = now + lease;
        }
        true
    }

    /// [`Deduplicator::complete`], synchronous.
    pub fn complete_now(&self, event_id: &str, token: &ClaimToken) -> bool {
        let now = Instant::now();
        let mut ids = self.ids();
        let free = match ids.at.get(event_id).map(|entry| &entry.state) {
            None => true,
            Some(State::Claimed { token: held, until }) => held == token || *until <= now,
            Some(State::Completed) => return true,
        };
        if free {
            ids.write(self.capacity, event_id, State::Completed, now);
        }
        free
    }

    /// [`Deduplicator::release`], synchronous.
    pub fn release_now(&self, event_id: &str, token: &ClaimToken) {
        let mut ids = self.ids();
        let held = matches!(
            ids.at.get(event_id).map(|entry| &entry.state),
            Some(State::Claimed { token: held, .. }) if held == token
        );
        if held {
            ids.at.remove(event_id);
        }
    }

    /// How many IDs it remembers now (claimed or completed).
    pub fn len(&self) -> usize {
        self.ids().at.len()
    }

    /// Whether it remembers no ID.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Deduplicator for MemoryDeduplicator {
    fn claim<'a>(&'a self, event_id: &'a str, lease: Duration) -> DedupFuture<'a, Claim> {
        let claim = self.claim_now(event_id, lease);
        Box::pin(async move { Ok(claim) })
    }

    fn renew<'a>(
        &'a self,
        event_id: &'a str,
        token: &'a ClaimToken,
        lease: Duration,
    ) -> DedupFuture<'a, bool> {
        let renewed = self.renew_now(event_id, token, lease);
        Box::pin(async move { Ok(renewed) })
    }

    fn complete<'a>(&'a self, event_id: &'a str, token: &'a ClaimToken) -> DedupFuture<'a, bool> {
        let completed = self.complete_now(event_id, token);
        Box::pin(async move { Ok(completed) })
    }

    fn release<'a>(&'a self, event_id: &'a str, token: &'a ClaimToken) -> DedupFuture<'a, ()> {
        self.release_now(event_id, token);
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(60);

    fn claimed(claim: Claim) -> ClaimToken {
        match claim {
            Claim::Claimed(token) => token,
            other => panic!("expected a claim, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn claimed_is_in_progress_completed_is_a_duplicate_released_is_claimed_again() {
        let dedup = MemoryDeduplicator::default();
        let token = claimed(dedup.claim("a", LEASE).await.unwrap());
        assert_eq!(dedup.claim("a", LEASE).await.unwrap(), Claim::InProgress);
        assert!(matches!(
            dedup.claim("b", LEASE).await.unwrap(),
            Claim::Claimed(_)
        ));
        dedup.release("a", &token).await.unwrap();
        let token = claimed(dedup.claim("a", LEASE).await.unwrap());
        assert!(dedup.renew("a", &token, LEASE).await.unwrap());
        assert!(dedup.complete("a", &token).await.unwrap());
        assert_eq!(dedup.claim("a", LEASE).await.unwrap(), Claim::Completed);
        assert!(!dedup.renew("a", &token, LEASE).await.unwrap());
    }

    #[test]
    fn a_lapsed_claim_is_taken_over_and_only_its_holder_may_release_it() {
        let dedup = MemoryDeduplicator::default();
        let stale = claimed(dedup.claim_now("x", Duration::ZERO));
        let token = claimed(dedup.claim_now("x", LEASE));
        assert!(!dedup.renew_now("x", &stale, LEASE));
        dedup.release_now("x", &stale);
        assert_eq!(dedup.claim_now("x", LEASE), Claim::InProgress);
        assert!(!dedup.complete_now("x", &stale), "another holds it");
        assert!(dedup.complete_now("x", &token));
    }

    #[test]
    fn memory_is_bounded_and_forgets_the_oldest() {
        let dedup = MemoryDeduplicator::new(3, DEFAULT_DEDUP_TTL);
        for id in ["1", "2", "3", "4"] {
            let token = claimed(dedup.claim_now(id, LEASE));
            assert!(dedup.complete_now(id, &token));
        }
        assert_eq!(dedup.len(), 3);
        assert_eq!(dedup.claim_now("4", LEASE), Claim::Completed);
        assert!(
            matches!(dedup.claim_now("1", LEASE), Claim::Claimed(_)),
            "the oldest was forgotten"
        );
        for i in 0..1000 {
            let id = format!("n{i}");
            let token = claimed(dedup.claim_now(&id, LEASE));
            assert!(dedup.complete_now(&id, &token));
        }
        assert!(dedup.len() <= 3);
        assert!(dedup.ids.lock().unwrap().order.len() <= 7);
    }

    #[test]
    fn a_completed_id_is_forgotten_after_its_ttl() {
        let dedup = MemoryDeduplicator::new(10, Duration::from_millis(30));
        let token = claimed(dedup.claim_now("x", LEASE));
        assert!(dedup.complete_now("x", &token));
        assert_eq!(dedup.claim_now("x", LEASE), Claim::Completed);
        std::thread::sleep(Duration::from_millis(40));
        assert!(matches!(dedup.claim_now("x", LEASE), Claim::Claimed(_)));
    }
}
