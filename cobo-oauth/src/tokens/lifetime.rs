//! [`Lifetime`]: how long a manager's tokens live, and the margin that follows from it when they
//! live less than the configured refresh margin.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rand::Rng as _;

/// How long the tokens Cobo issues to one manager live, as last seen (0: not seen yet, e.g. a
/// pair read from the store), and whether a lifetime shorter than the margin was reported.
///
/// A token that lives less than the refresh margin would be stale as soon as it is issued:
/// never served from cache, renewed on every call and by the refresher in a loop. Its effective
/// margin is half its lifetime instead ([`Self::margin_ms`]): it is served from cache for the
/// first half of its life and renewed once.
#[derive(Debug, Default)]
pub(super) struct Lifetime {
    lifetime_ms: AtomicU64,
    warned: AtomicBool,
}

impl Lifetime {
    /// Records that Cobo issued a token that lives `lifetime_ms`; the first time one lives no
    /// longer than `margin_ms`, logs one warning (no token in it).
    pub fn observe(&self, lifetime_ms: u64, margin_ms: u64) {
        self.lifetime_ms.store(lifetime_ms, Ordering::Relaxed);
        if is_short(lifetime_ms, margin_ms) && !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                lifetime_ms,
                margin_ms,
                effective_margin_ms = lifetime_ms / 2,
                "the token lives less than the refresh margin; it is renewed half-way through its lifetime instead"
            );
        }
    }

    /// How long before expiry a token counts as stale: `margin_ms`, or half the lifetime when
    /// the tokens live no longer than `margin_ms`.
    pub fn margin_ms(&self, margin_ms: u64) -> u64 {
        let lifetime_ms = self.lifetime_ms.load(Ordering::Relaxed);
        if is_short(lifetime_ms, margin_ms) {
            lifetime_ms / 2
        } else {
            margin_ms
        }
    }

    /// How long before expiry a background renewal is due: the margin plus a random jitter of
    /// up to half of it, never more than half-way between the margin and the lifetime (so a new
    /// token is never due at once); half the lifetime, without jitter, for tokens that live no
    /// longer than `margin_ms`.
    pub fn ahead_ms(&self, margin_ms: u64) -> u64 {
        let lifetime_ms = self.lifetime_ms.load(Ordering::Relaxed);
        if is_short(lifetime_ms, margin_ms) {
            return lifetime_ms / 2;
        }
        let jittered = margin_ms.saturating_add(rand::thread_rng().gen_range(0..=margin_ms / 2));
        self.clamp(jittered, margin_ms)
    }

    /// `wanted_ms` (how long a renewal wants the token to stay valid), never more than a token
    /// of the lifetime seen can be: half of it for tokens that live no longer than `margin_ms`,
    /// half-way between the margin and the lifetime otherwise. A renewal asked for with a margin
    /// computed before the lifetime was known so never renews a new token again.
    pub fn clamp(&self, wanted_ms: u64, margin_ms: u64) -> u64 {
        let lifetime_ms = self.lifetime_ms.load(Ordering::Relaxed);
        if lifetime_ms == 0 {
            wanted_ms
        } else if is_short(lifetime_ms, margin_ms) {
            wanted_ms.min(lifetime_ms / 2)
        } else {
            wanted_ms.min(margin_ms + (lifetime_ms - margin_ms) / 2)
        }
    }
}

/// Whether tokens that live `lifetime_ms` (0: unknown) live no longer than `margin_ms`.
fn is_short(lifetime_ms: u64, margin_ms: u64) -> bool {
    lifetime_ms > 0 && lifetime_ms <= margin_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_or_long_lifetime_keeps_the_margin() {
        let lifetime = Lifetime::default();
        assert_eq!(lifetime.margin_ms(5_000), 5_000);
        assert!((5_000..=7_500).contains(&lifetime.ahead_ms(5_000)));
        lifetime.observe(43_200_000, 300_000);
        assert_eq!(lifetime.margin_ms(300_000), 300_000);
        assert!((300_000..=450_000).contains(&lifetime.ahead_ms(300_000)));
        assert!(!lifetime.warned.load(Ordering::Relaxed));
    }

    #[test]
    fn a_lifetime_shorter_than_the_margin_halves_it() {
        let lifetime = Lifetime::default();
        lifetime.observe(3_000, 5_000);
        assert_eq!(lifetime.margin_ms(5_000), 1_500);
        assert_eq!(lifetime.ahead_ms(5_000), 1_500);
        assert_eq!(lifetime.clamp(7_000, 5_000), 1_500);
        assert_eq!(lifetime.clamp(1_000, 5_000), 1_000);
        assert!(lifetime.warned.load(Ordering::Relaxed));
    }

    #[test]
    fn a_lifetime_just_above_the_margin_is_never_due_at_once() {
        let lifetime = Lifetime::default();
        lifetime.observe(6_000, 5_000);
        for _ in 0..100 {
            assert!((5_000..=5_500).contains(&lifetime.ahead_ms(5_000)));
        }
    }
}
