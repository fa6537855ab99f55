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

/// Hands out `Biz-Api-Nonce` values: the clock's milliseconds, but always greater than the last
/// one handed out, even when many requests start in the same millisecond or the clock steps back.
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
        let previous = self
            .last
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
                Some(now.max(last.saturating_add(1)))
            })
            .unwrap_or_else(|last| last);
        now.max(previous.saturating_add(1))
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
        assert_eq!(all.len(), 4000, "every nonce is unique");
    }
}
