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

    /// Whether it may keep a pair it could not save (a renewal holding the state counts).
    pub(super) fn may_have_unsaved(&self) -> bool {
        self.inner
            .refresh
            .try_lock()
            .map_or(true, |state| state.unsaved.is_some())
    }

    /// Tries once more to save a pair whose save failed (and gives back the lease kept for it);
    /// whether no pair is left unsaved. Runs in a task of its own: a caller dropped midway
    /// loses nothing (the pair goes back to the state if the save fails).
    pub(super) async fn save_unsaved(&self) -> bool {
        let mut state = std::sync::Arc::clone(&self.inner.refresh)
            .lock_owned()
            .await;
        let manager = self.clone();
        let work = tokio::spawn(async move { manager.save_again(&mut state).await });
        match work.await {
            Ok(saved) => saved,
            Err(stopped) if stopped.is_panic() => std::panic::resume_unwind(stopped.into_panic()),
            Err(_) => false,
        }
    }
}
