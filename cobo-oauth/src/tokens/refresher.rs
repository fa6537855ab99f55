//! [`Refresher`]: renews a [`TokenManager`]'s token ahead of its expiry, in the background, so
//! that callers never wait on Cobo.

use std::time::Duration;

use super::manager::TokenManager;
use crate::millis::millis;

/// The first pause after a failed background renewal; it doubles with each failure after it.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest pause between two failed background renewals.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The longest sleep before the token is looked at again (a clock that steps, a token renewed
/// elsewhere).
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// A running background refresher ([`TokenManager::spawn_refresher`]). Dropping it stops it; a
/// renewal it had started still finishes (renewals run in a task of their own).
#[derive(Debug)]
pub struct Refresher {
    task: tokio::task::AbortHandle,
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Refresher {
    /// Whether it stopped by itself (a permanent error, such as
    /// [`Error::ReauthorizationRequired`](crate::Error::ReauthorizationRequired), logged at
    /// `error`).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Refresher {
    /// Starts renewing `manager`'s token in the background
    /// ([`TokenManager::spawn_refresher`]).
    pub(super) fn spawn(manager: TokenManager) -> Self {
        let task = tokio::spawn(refresh_ahead(manager));
        Self {
            task: task.abort_handle(),
        }
    }
}

/// The refresher's loop.
async fn refresh_ahead(manager: TokenManager) {
    let owner = manager.owner();
    let mut backoff = FIRST_BACKOFF;
    loop {
        // Drawn again each time: the tokens' lifetime, once seen, may shorten it.
        let ahead_ms = manager.ahead_ms();
        if let Some(token) = manager.fresh_for(ahead_ms) {
            let due = token.expires_at_ms.saturating_sub(ahead_ms);
            let wait = due.saturating_sub(manager.settings().clock.now_millis());
            tokio::time::sleep(Duration::from_millis(wait).min(MAX_SLEEP)).await;
            continue;
        }
        match manager.renewed(ahead_ms).await {
            // Fresh for the margin that follows from the lifetime of the token just issued.
            Ok(token) if manager.is_fresh_for(&token, manager.margin_ms()) => {
                tracing::debug!("renewed the token ahead of its expiry");
                backoff = FIRST_BACKOFF;
            }
            Ok(_) => {
                // A token that expires within the margin would be renewed in a tight loop.
                tracing::warn!(
                    retry_in_ms = millis(backoff),
                    "the new token expires within the refresh margin; is the margin longer than the token's lifetime?"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(error) if error.is_permanent() => {
                tracing::error!(
                    client_id = %owner.client_id,
                    org_id = ?owner.org_id,
                    error = %error,
                    "background token renewal stopped"
                );
                return;
            }
            Err(error) => {
                // Cobo's `Retry-After` (a rate limit), capped, when it asks for longer.
                let wait = error
                    .retry_after()
                    .map_or(backoff, |asked| asked.min(MAX_BACKOFF).max(backoff));
                tracing::warn!(
                    client_id = %owner.client_id,
                    org_id = ?owner.org_id,
                    error = %error,
                    retry_in_ms = millis(wait),
                    "background token renewal failed"
                );
                tokio::time::sleep(wait).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
