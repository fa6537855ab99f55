//! [`RateLimit`]: the one pause of every renewal of an app's organizations while Cobo
//! rate-limits it.

use std::sync::Mutex;
use std::time::Duration;

use crate::millis::millis;

/// Cobo's error code for a rate limit.
pub const RATE_LIMITED_CODE: i64 = 2026;
/// The pause of a first rate limit without `Retry-After`; it doubles with each episode that
/// follows without a renewal succeeding in between.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause, `Retry-After` included.
pub const MAX_PAUSE: Duration = Duration::from_secs(30);

/// The pause shared by every renewal of an [`OrgTokens`](super::OrgTokens) (the refresher's,
/// callers' whose token is still unexpired, installs') while Cobo rate-limits the app.
///
/// It is raised once per episode: the first rate-limited answer starts a pause, and the answers
/// of the requests that were already in flight then fall within it and do not lengthen it
/// (only a longer `Retry-After` does). `Retry-After` sets the pause when Cobo sends one;
/// otherwise it is 1 s, doubling with each episode that follows without a renewal succeeding
/// in between. Either is capped at [`MAX_PAUSE`].
#[derive(Debug)]
pub(super) struct RateLimit {
    state: Mutex<Episode>,
}

/// The current (or last) episode.
#[derive(Debug)]
struct Episode {
    /// When renewals may start again (Unix ms).
    until_ms: u64,
    /// The pause of the next episode without `Retry-After`.
    next: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            state: Mutex::new(Episode {
                until_ms: 0,
                next: FIRST_PAUSE,
            }),
        }
    }
}

impl RateLimit {
    fn episode(&self) -> std::sync::MutexGuard<'_, Episode> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Cobo rate-limited a request at `now_ms`, asking to wait `retry_after` if it said so.
    /// Starts a pause unless one is running (which a longer `Retry-After` extends); the pause
    /// started, if one was.
    pub fn raise(&self, now_ms: u64, retry_after: Option<Duration>) -> Option<Duration> {
        let mut episode = self.episode();
        if now_ms < episode.until_ms {
            if let Some(wait) = retry_after {
                let until = now_ms.saturating_add(millis(wait.min(MAX_PAUSE)));
                episode.until_ms = episode.until_ms.max(until);
            }
            return None;
        }
        let pause = retry_after.unwrap_or(episode.next).min(MAX_PAUSE);
        episode.next = (episode.next * 2).min(MAX_PAUSE);
        episode.until_ms = now_ms.saturating_add(millis(pause));
        Some(pause)
    }

    /// A renewal succeeded: the next episode starts from the first pause again.
    pub fn calm(&self) {
        self.episode().next = FIRST_PAUSE;
    }

    /// When renewals may start again (Unix ms; in the past when they may now).
    pub fn until_ms(&self) -> u64 {
        self.episode().until_ms
    }

    /// Whether renewals are paused at `now_ms`.
    pub fn is_paused(&self, now_ms: u64) -> bool {
        now_ms < self.until_ms()
    }

    /// Waits until the pause (if any) is over, by the clock that gave `now_ms`.
    pub async fn wait(&self, now_ms: impl Fn() -> u64) {
        loop {
            let left = self.until_ms().saturating_sub(now_ms());
            if left == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(left)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    fn is_rate_limited(error: &Error) -> bool {
        error.is_rate_limited()
    }

    #[test]
    fn one_pause_per_episode_doubling_until_a_renewal_succeeds() {
        let limit = RateLimit::default();
        assert_eq!(limit.raise(1_000, None), Some(FIRST_PAUSE));
        // The answers of requests already in flight fall within it.
        assert_eq!(limit.raise(1_500, None), None);
        assert_eq!(limit.raise(1_999, None), None);
        assert_eq!(limit.until_ms(), 2_000);
        assert!(limit.is_paused(1_999) && !limit.is_paused(2_000));
        assert_eq!(limit.raise(2_000, None), Some(FIRST_PAUSE * 2));
        limit.calm();
        assert_eq!(limit.raise(10_000, None), Some(FIRST_PAUSE));
        for n in 0..20 {
            limit.raise(100_000 * (n + 1), None);
        }
        assert_eq!(limit.raise(10_000_000, None), Some(MAX_PAUSE));
    }

    #[test]
    fn retry_after_sets_the_pause_capped_and_extends_a_running_one() {
        let limit = RateLimit::default();
        let wait = Duration::from_secs(5);
        assert_eq!(limit.raise(0, Some(wait)), Some(wait));
        assert_eq!(limit.raise(1_000, Some(Duration::from_secs(7))), None);
        assert_eq!(limit.until_ms(), 8_000);
        assert_eq!(limit.raise(1_000, Some(Duration::from_secs(1))), None);
        assert_eq!(limit.until_ms(), 8_000);
        assert_eq!(
            limit.raise(9_000, Some(Duration::from_secs(3_600))),
            Some(MAX_PAUSE)
        );
    }

    #[test]
    fn error_2026_is_a_rate_limit() {
        let api = |status, code| Error::Api {
            status,
            code,
            message: String::new(),
            error_id: String::new(),
            retry_after: None,
        };
        assert!(is_rate_limited(&api(400, RATE_LIMITED_CODE)));
        assert!(is_rate_limited(&api(500, RATE_LIMITED_CODE)));
        assert!(is_rate_limited(&api(429, 2000)));
        assert!(!is_rate_limited(&api(500, 2000)));
        assert!(is_rate_limited(&Error::RefreshOutcomeUnknown(Box::new(
            api(500, RATE_LIMITED_CODE)
        ))));
    }

    #[test]
    fn a_429_in_any_shape_is_a_rate_limit() {
        let oauth = |status| Error::OAuth {
            status,
            error: "slow_down".to_owned(),
            description: String::new(),
            retry_after: None,
        };
        let body = |status| Error::InvalidBody {
            status,
            reason: "not JSON".to_owned(),
        };
        assert!(is_rate_limited(&oauth(429)));
        assert!(!is_rate_limited(&oauth(400)));
        assert!(is_rate_limited(&Error::Http {
            status: 429,
            body: "Too Many Requests".to_owned(),
            retry_after: None,
        }));
        // A body that is neither Cobo's nor OAuth's, or that is not signed.
        assert!(is_rate_limited(&body(429)));
        assert!(is_rate_limited(&Error::RefreshOutcomeUnknown(Box::new(
            body(429)
        ))));
        assert!(is_rate_limited(&Error::ResponseSignature(
            crate::verify::VerifyError::Missing { status: 429 }
        )));
        assert!(is_rate_limited(&Error::ReauthorizationRequired {
            status: 429,
            error: "slow_down".to_owned(),
            description: String::new(),
        }));
        assert!(!is_rate_limited(&body(400)));
    }
}
