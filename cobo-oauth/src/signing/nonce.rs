//! Nonces: millisecond timestamps, strictly increasing per signer.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
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
            .saturating_add(u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX))
    }
}

/// How far nonces may run ahead of the clock before they follow it back: at most 1,000 requests a
/// second per key keep strictly increasing nonces; a clock that stepped back further than this is
/// followed on the next request.
pub const MAX_NONCE_LEAD_MS: u64 = 1_000;

/// Hands out `Biz-Api-Nonce` values: the clock's milliseconds, and strictly greater than the last
/// one handed out while that stays within [`MAX_NONCE_LEAD_MS`] of the clock (many requests in
/// the same millisecond, a small step back). When the clock steps back further (NTP correcting a
/// clock that ran ahead), the next nonce is the clock's time again, with one `warn`: nonces kept
/// ahead of a clock that stepped back would be refused by Cobo as too far in the future until the
/// clock caught up.
#[derive(Debug)]
pub struct NonceSource {
    clock: Arc<dyn Clock>,
    last: AtomicU64,
}

impl NonceSource {
    /// A nonce source reading `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            last: AtomicU64::new(0),
        }
    }

    /// The next nonce.
    pub fn next(&self) -> u64 {
        let now = self.clock.now_millis();
        let step = |last: u64| {
            let next = now.max(last.saturating_add(1));
            if next > now.saturating_add(MAX_NONCE_LEAD_MS) {
                now
            } else {
                next
            }
        };
        let previous = self
            .last
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| Some(step(last)))
            .unwrap_or_else(|last| last);
        let next = step(previous);
        if next <= previous {
            tracing::warn!(
                stepped_back_ms = previous - next,
                "the clock stepped back; nonces follow it again"
            );
        }
        next
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
                std::thread::spawn(move || (0..250).map(|_| nonces.next()).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 1000, "every nonce is unique");
    }

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
    fn a_small_step_back_keeps_nonces_increasing() {
        let clock = Arc::new(Manual(AtomicU64::new(50_000)));
        let nonces = NonceSource::new(clock.clone());
        assert_eq!(nonces.next(), 50_000);
        clock.0.store(49_500, Ordering::SeqCst);
        assert_eq!(nonces.next(), 50_001);
    }

    #[test]
    fn a_burst_under_a_thousand_a_second_stays_strictly_increasing() {
        let nonces = NonceSource::new(Arc::new(Fixed(7_000)));
        let burst: Vec<u64> = (0..=MAX_NONCE_LEAD_MS).map(|_| nonces.next()).collect();
        assert!(burst.windows(2).all(|w| w[0] < w[1]));
    }
}
