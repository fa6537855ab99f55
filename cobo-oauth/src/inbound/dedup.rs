//! "Seen before?": Cobo may deliver a webhook event more than once (retries, and duplicates even
//! after a 200), so an app deduplicates by `event_id`.
//!
//! [`MemoryDeduplicator`] is for one process (bounded: the oldest IDs are forgotten first, and
//! each is forgotten after a time to live); `RedisDeduplicator` (feature `redis`) is for a fleet,
//! with `SET key 1 NX EX ttl`.
//!
//! Mark an event seen only once you handled it, or accept that a crash between marking and
//! handling loses it: [`Deduplicator::forget`] undoes a mark when handling fails.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why the deduplicator could not answer (Redis unreachable, ...). Answer Cobo with a 5XX so it
/// retries, rather than guessing.
#[derive(Debug, thiserror::Error)]
#[error("the deduplicator could not answer: {reason}")]
pub struct DedupError {
    /// What failed.
    pub reason: String,
}

/// Whether an event ID was seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The first time: handle it.
    First,
    /// Seen before: answer 200 and do nothing.
    Duplicate,
}

/// The future of a [`Deduplicator`] call.
pub type DedupFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DedupError>> + Send + 'a>>;

/// Answers "seen before?" for event IDs, atomically: of two concurrent calls with one ID, one
/// gets [`Seen::First`].
pub trait Deduplicator: Send + Sync {
    /// Marks `event_id` seen, and says whether it was seen before.
    fn check_and_mark<'a>(&'a self, event_id: &'a str) -> DedupFuture<'a, Seen>;
    /// Forgets `event_id` (its handling failed: let the next delivery handle it).
    fn forget<'a>(&'a self, event_id: &'a str) -> DedupFuture<'a, ()>;
}

/// The default number of IDs a [`MemoryDeduplicator`] remembers.
pub const DEFAULT_MEMORY_CAPACITY: usize = 100_000;
/// The default time an ID is remembered: Cobo's retries of one event span about a day.
pub const DEFAULT_DEDUP_TTL: Duration = Duration::from_secs(3 * 24 * 3600);

/// Event IDs in memory, at most `capacity` of them, each for `ttl`.
#[derive(Debug)]
pub struct MemoryDeduplicator {
    capacity: usize,
    ttl: Duration,
    seen: Mutex<SeenIds>,
}

#[derive(Debug, Default)]
struct SeenIds {
    /// When each ID was marked.
    at: HashMap<String, Instant>,
    /// IDs in marking order (may hold IDs forgotten since; `at` decides).
    order: VecDeque<(String, Instant)>,
}

impl SeenIds {
    /// Drops the oldest IDs while `drop(marked_at, how_many_remembered)` says so.
    fn drop_oldest_while(&mut self, drop: impl Fn(Instant, usize) -> bool) {
        while let Some((id, at)) = self.order.front() {
            let current = self.at.get(id) == Some(at);
            if current && !drop(*at, self.at.len()) {
                break;
            }
            if current {
                self.at.remove(id);
            }
            self.order.pop_front();
        }
    }
}

impl Default for MemoryDeduplicator {
    fn default() -> Self {
        Self::new(DEFAULT_MEMORY_CAPACITY, DEFAULT_DEDUP_TTL)
    }
}

impl MemoryDeduplicator {
    /// Remembers at most `capacity` IDs (at least one), each for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity: capacity.max(1),
            ttl,
            seen: Mutex::new(SeenIds::default()),
        }
    }

    /// Marks `event_id` seen, and says whether it was seen before (synchronous).
    pub fn check_and_mark_now(&self, event_id: &str) -> Seen {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let seen = &mut *seen;
        seen.drop_oldest_while(|at, _| now.duration_since(at) >= self.ttl);
        if seen.at.contains_key(event_id) {
            return Seen::Duplicate;
        }
        seen.drop_oldest_while(|_, len| len >= self.capacity);
        if seen.order.len() > self.capacity.saturating_mul(2) {
            // Many forgotten IDs linger in `order`: rebuild it from `at`.
            let mut order: Vec<_> = seen.at.iter().map(|(k, v)| (k.clone(), *v)).collect();
            order.sort_by_key(|(_, at)| *at);
            seen.order = order.into();
        }
        seen.at.insert(event_id.to_owned(), now);
        seen.order.push_back((event_id.to_owned(), now));
        Seen::First
    }

    /// Forgets `event_id` (its handling failed: let the next delivery handle it; synchronous).
    pub fn forget_now(&self, event_id: &str) {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .at
            .remove(event_id);
    }

    /// How many IDs it remembers now.
    pub fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).at.len()
    }

    /// Whether it remembers no ID.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Deduplicator for MemoryDeduplicator {
    fn check_and_mark<'a>(&'a self, event_id: &'a str) -> DedupFuture<'a, Seen> {
        let seen = self.check_and_mark_now(event_id);
        Box::pin(async move { Ok(seen) })
    }

    fn forget<'a>(&'a self, event_id: &'a str) -> DedupFuture<'a, ()> {
        self.forget_now(event_id);
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_second_delivery_is_a_duplicate_until_forgotten() {
        let dedup = MemoryDeduplicator::default();
        assert_eq!(dedup.check_and_mark("a").await.unwrap(), Seen::First);
        assert_eq!(dedup.check_and_mark("a").await.unwrap(), Seen::Duplicate);
        assert_eq!(dedup.check_and_mark("b").await.unwrap(), Seen::First);
        dedup.forget("a").await.unwrap();
        assert_eq!(dedup.check_and_mark("a").await.unwrap(), Seen::First);
    }

    #[test]
    fn memory_is_bounded_and_forgets_the_oldest() {
        let dedup = MemoryDeduplicator::new(3, DEFAULT_DEDUP_TTL);
        for id in ["1", "2", "3", "4"] {
            assert_eq!(dedup.check_and_mark_now(id), Seen::First);
        }
        assert_eq!(dedup.len(), 3);
        assert_eq!(dedup.check_and_mark_now("4"), Seen::Duplicate);
        assert_eq!(
            dedup.check_and_mark_now("1"),
            Seen::First,
            "the oldest was forgotten"
        );
        for i in 0..1000 {
            dedup.check_and_mark_now(&i.to_string());
        }
        assert!(dedup.len() <= 3);
        assert!(dedup.seen.lock().unwrap().order.len() <= 7);
    }

    #[test]
    fn an_id_is_forgotten_after_its_ttl() {
        let dedup = MemoryDeduplicator::new(10, Duration::from_millis(30));
        assert_eq!(dedup.check_and_mark_now("x"), Seen::First);
        assert_eq!(dedup.check_and_mark_now("x"), Seen::Duplicate);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(dedup.check_and_mark_now("x"), Seen::First);
    }
}
