//! Nonces: millisecond timestamps, strictly increasing per signer.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock time in Unix milliseconds. Inject one in tests.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(crate::millis::millis)
            .unwrap_or(0)
    }
}

/// A clock that follows tokio's time: wall-clock milliseconds at creation, plus the tokio time
/// elapsed since. Under `tokio::time::pause` it advances only with tokio time, which makes expiry
/// and backoff testable without waiting.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin_ms: u64,
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// Starts at the system clock's current time.
    pub fn new() -> Self {
        Self::starting_at(SystemClock.now_millis())
    }

    /// Starts at `origin_ms`.
    pub fn starting_at(origin_ms: u64) -> Self {
        Self {
            origin_ms,
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now_millis(&self) -> u64 {
        self.origin_ms
            .saturating_add(crate::millis::millis(self.origin.elapsed()))
    }
}

/// How far the wall clock must step back (below the latest reading) before nonces follow it
/// back instead of staying ahead of it.
pub const MAX_NONCE_LEAD_MS: u64 = 1_000;

/// Hands out `Biz-Api-Nonce` values: the clock's milliseconds, and always greater than the last
/// one handed out (many requests in the same millisecond, a small step back of the clock). When
/// the clock itself steps back by more than [`MAX_NONCE_LEAD_MS`] below its latest reading (NTP
/// correcting a clock that ran ahead), the next nonce is the clock's time again, with one
/// `warn`: nonces kept ahead of such a clock would be refused by Cobo as too far in the future
/// until the clock caught up. No nonce handed out in the last five minutes is handed out again
/// (nonces already used ahead of the clock are skipped after it steps back), and a burst of
/// requests never makes nonces repeat, however large.
#[derive(Debug)]
pub struct NonceSource {
    clock: Arc<dyn Clock>,
    state: Mutex<Issued>,
}

/// How long a nonce is remembered, so that it is not handed out again after the clock steps back
/// (Cobo refuses a nonce it has seen within its window).
const REMEMBER_FOR: std::time::Duration = std::time::Duration::from_secs(300);

/// The most nonces remembered (100 s at 1,000 requests a second): a bound on memory.
const MAX_REMEMBERED: usize = 100_000;

/// The last nonce handed out, the latest clock reading, and the nonces handed out recently.
#[derive(Debug, Default)]
struct Issued {
    last: u64,
    latest_clock: u64,
    recent: BTreeSet<u64>,
    order: VecDeque<(Instant, u64)>,
}

impl Issued {
    /// Forgets nonces older than [`REMEMBER_FOR`] and beyond [`MAX_REMEMBERED`].
    fn forget_old(&mut self) {
        while let Some((at, nonce)) = self.order.front().copied() {
            if self.order.len() <= MAX_REMEMBERED && at.elapsed() < REMEMBER_FOR {
                break;
            }
            self.order.pop_front();
            self.recent.remove(&nonce);
        }
    }

    /// Hands out `candidate`, or the first value above it not handed out recently.
    fn hand_out(&mut self, mut candidate: u64) -> u64 {
        while self.recent.contains(&candidate) {
            candidate = candidate.saturating_add(1);
        }
        self.last = candidate;
        self.recent.insert(candidate);
        self.order.push_back((Instant::now(), candidate));
        candidate
    }
}

impl NonceSource {
    /// A nonce source reading `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            state: Mutex::new(Issued::default()),
        }
    }

    /// The next nonce.
    pub fn next(&self) -> u64 {
        let now = self.clock.now_millis();
        let mut issued = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        issued.forget_old();
        if now.saturating_add(MAX_NONCE_LEAD_MS) < issued.latest_clock {
            tracing::warn!(
                stepped_back_ms = issued.latest_clock - now,
                "the clock stepped back; nonces follow it again"
            );
            issued.latest_clock = now;
            return issued.hand_out(now);
        }
        issued.latest_clock = issued.latest_clock.max(now);
        let candidate = now.max(issued.last.saturating_add(1));
        issued.hand_out(candidate)
    }
}

impl Default for NonceSource {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fixed(u64);
    impl Clock for Fixed {
        fn now_millis(&self) -> u64 {
            self.0
        }
    }

    #[test]
    fn strictly_increasing_within_one_millisecond() {
        let nonces = NonceSource::new(Arc::new(Fixed(1_000)));
        assert_eq!(
            [nonces.next(), nonces.next(), nonces.next()],
            [1_000, 1_001, 1_002]
        );
    }

    #[test]
    fn strictly_increasing_across_threads() {
        let nonces = Arc::new(NonceSource::new(Arc::new(Fixed(5))));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let nonces = Arc::clone(&nonces);
                std::thread::spawn(move || (0..1000).map(|_| nonces.next()).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            all.len(),
            4000,
            "every nonce is unique, even 4,000 in one millisecond"
        );
    }

    use std::sync::atomic::{AtomicU64, Ordering};

    /// A clock the test sets.
    #[derive(Debug, Default)]
    struct Manual(AtomicU64);
    impl Clock for Manual {
        fn now_millis(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn follows_the_clock_back_after_a_step_of_more_than_a_second() {
        let clock = Arc::new(Manual(AtomicU64::new(1_000_000)));
        let nonces = NonceSource::new(clock.clone());
        assert_eq!(nonces.next(), 1_000_000);
        clock.0.store(1_000_000 + 3_600_000, Ordering::SeqCst);
        assert_eq!(nonces.next(), 4_600_000);
        clock.0.store(1_000_010, Ordering::SeqCst);
        assert_eq!(nonces.next(), 1_000_010, "back with the clock at once");
        assert_eq!(nonces.next(), 1_000_011, "and increasing again");
    }

    #[test]
    fn after_a_step_back_no_nonce_handed_out_before_is_handed_out_again() {
        let clock = Arc::new(Manual(AtomicU64::new(1_000_000)));
        let nonces = NonceSource::new(clock.clone());
        assert_eq!(nonces.next(), 1_000_000);
        assert_eq!(nonces.next(), 1_000_001);
        clock.0.store(1_002_000, Ordering::SeqCst);
        assert_eq!(nonces.next(), 1_002_000);
        clock.0.store(1_000_000, Ordering::SeqCst);
        assert_eq!(nonces.next(), 1_000_002, "the used values are skipped");
        clock.0.store(1_002_000, Ordering::SeqCst);
        assert_eq!(
            nonces.next(),
            1_002_001,
            "and once more when the clock gets there"
        );
    }

    #[test]
    fn a_small_step_back_keeps_nonces_increasing() {
        let clock = Arc::new(Manual(AtomicU64::new(50_000)));
        let nonces = NonceSource::new(clock.clone());
        assert_eq!(nonces.next(), 50_000);
        clock.0.store(49_500, Ordering::SeqCst);
        assert_eq!(nonces.next(), 50_001);
    }

    #[test]
    fn a_burst_of_any_size_stays_strictly_increasing() {
        let nonces = NonceSource::new(Arc::new(Fixed(7_000)));
        let burst: Vec<u64> = (0..5_000).map(|_| nonces.next()).collect();
        assert!(burst.windows(2).all(|w| w[0] < w[1]));
    }
}
