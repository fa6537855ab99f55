//! Retries of the client as a whole: which failures are retried, and when.
//!
//! Idempotent requests (GET, PUT, DELETE, HEAD, OPTIONS) are retried on a transient failure: a
//! 408, 429, 502, 503 or 504 status, or a connection that could not be made. Any other method is
//! retried only when the request provably never left (the connection could not be made). Every
//! attempt is signed again, with a fresh nonce.

use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};

/// How failed requests are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: no retries).
    pub max_attempts: u32,
    /// The first backoff; it doubles with every retry.
    pub initial_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// The longest wait a `Retry-After` header may ask for.
    pub max_retry_after: Duration,
    /// No retry starts after this much time since the first attempt.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
            deadline: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Whether the method may be sent twice.
    pub fn idempotent(method: &Method) -> bool {
        matches!(
            *method,
            Method::GET | Method::PUT | Method::DELETE | Method::HEAD | Method::OPTIONS
        )
    }

    /// Whether a status is worth another attempt.
    pub fn transient_status(status: StatusCode) -> bool {
        matches!(status.as_u16(), 408 | 429 | 502 | 503 | 504)
    }

    /// The wait a `Retry-After` header (whole seconds) asks for, if `headers` have one.
    pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
        headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
    }

    /// The wait before retry number `retry` (1 for the first retry): `Retry-After` (seconds)
    /// when the response has one, capped; otherwise exponential backoff with full jitter in its
    /// upper half.
    pub fn delay(&self, retry: u32, headers: Option<&HeaderMap>) -> Duration {
        if let Some(wait) = headers.and_then(Self::retry_after) {
            return wait.min(self.max_retry_after);
        }
        let exponential = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)));
        let capped = exponential.min(self.max_backoff);
        let half = capped / 2;
        half + half.mul_f64(rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_wins_and_is_capped() {
        let policy = RetryPolicy::default();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(policy.delay(1, Some(&headers)), Duration::from_secs(2));
        headers.insert(http::header::RETRY_AFTER, "3600".parse().unwrap());
        assert_eq!(policy.delay(1, Some(&headers)), Duration::from_secs(30));
    }

    #[test]
    fn backoff_doubles_within_jitter_and_cap() {
        let policy = RetryPolicy::default();
        for retry in 1..8 {
            let cap =
                (Duration::from_millis(200) * 2u32.pow(retry - 1)).min(Duration::from_secs(5));
            let delay = policy.delay(retry, None);
            assert!(delay >= cap / 2 && delay <= cap, "{retry}: {delay:?}");
        }
    }
}
