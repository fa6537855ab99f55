//! Whether an organization's manager can leave memory without losing anything.

use std::sync::Arc;

use crate::tokens::manager::TokenManager;

impl TokenManager {
    /// Whether dropping this manager loses nothing: no renewal holds it (only the caller has a
    /// reference), and it keeps no unsaved pair, no held lease and no refresh token of unknown
    /// outcome that is still the published one (a new manager would send that one again; once a
    /// newer pair is published, that refresh token is never sent by anyone).
    pub(super) fn is_settled(&self) -> bool {
        Arc::strong_count(&self.inner) == 1
            && self.inner.refresh.try_lock().is_ok_and(|state| {
                state.unsaved.is_none()
                    && state.held.is_none()
                    && !self.outcome_unknown_pending(&state)
            })
    }
}
