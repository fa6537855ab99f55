//! [`Refresher`]: renews a [`TokenManager`]'s token ahead of its expiry, in the background, so
//! that callers never wait on Cobo.

use std::time::Duration;

use rand::Rng as _;

use super::manager::{TokenManager, millis};

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

impl TokenManager {
    /// Starts renewing the token in the background, `refresh_margin` plus a random jitter of up
    /// to half the margin before it expires, so that callers find a fresh token and never wait
    /// on Cobo, and several processes sharing a token do not all wake at once. A failed renewal
    /// is logged at `warn` and tried again with exponential backoff (1 s to 5 min); a permanent
    /// error stops the refresher (logged at `error`). Without a token yet, it gets one at once.
    ///
    /// Needs a tokio runtime. Stop it by dropping the handle.
    pub fn spawn_refresher(&self) -> Refresher {
        let manager = self.clone();
        let task = tokio::spawn(async move { manager.refresh_ahead().await });
        Refresher {
            task: task.abort_handle(),
        }
    }

    /// The refresher's loop.
    async fn refresh_ahead(self) {
        let margin_ms = self.inner.margin_ms;
        let mut backoff = FIRST_BACKOFF;
        loop {
            let ahead_ms =
                margin_ms.saturating_add(rand::thread_rng().gen_range(0..=margin_ms / 2));
            if let Some(token) = self.fresh_for(ahead_ms) {
                let due = token.expires_at_ms.saturating_sub(ahead_ms);
                let wait = due.saturating_sub(self.inner.clock.now_millis());
                tokio::time::sleep(Duration::from_millis(wait).min(MAX_SLEEP)).await;
                continue;
            }
            match self.renewed(ahead_ms).await {
                Ok(token) if self.is_fresh_for(&token, ahead_ms) => {
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
                        client_id = %self.inner.owner.client_id,
                        org_id = ?self.inner.owner.org_id,
                        error = %error,
                        "background token renewal stopped"
                    );
                    return;
                }
                Err(error) => {
                    tracing::warn!(
                        client_id = %self.inner.owner.client_id,
                        org_id = ?self.inner.owner.org_id,
                        error = %error,
                        retry_in_ms = millis(backoff),
                        "background token renewal failed"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}
