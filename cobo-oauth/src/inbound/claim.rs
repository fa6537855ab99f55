//! [`ClaimRunner`]: runs a webhook event's handler under a claim of its `event_id`: claim,
//! handle (renewing the lease in the background), complete on success, release on failure,
//! panic or drop. An event is handled at least once and, while it is not lost, once.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::dedup::{Claim, ClaimToken, DedupError, Deduplicator};
use crate::metrics::Dedup;

/// The default lease of a claim: a crashed replica's event is handled again this long after.
pub const DEFAULT_CLAIM_LEASE: Duration = Duration::from_secs(30);

/// What became of a delivery run by [`ClaimRunner::run`], and what to answer Cobo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    /// This delivery handled the event (and marked it completed): answer 200.
    Handled(T),
    /// The event was handled before: answer 200, do nothing.
    Duplicate,
    /// Another delivery is handling it now: answer non-2xx (503), so Cobo retries later; if
    /// that handling fails or its process dies, a later retry handles it.
    InProgress,
}

impl<T> Outcome<T> {
    /// The status to answer Cobo: 200, or 503 while another delivery holds the event.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::Handled(_) | Self::Duplicate => http::StatusCode::OK,
            Self::InProgress => http::StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// Why [`ClaimRunner::run`] did not handle the event: answer 5XX, Cobo retries.
#[derive(Debug, thiserror::Error)]
pub enum RunError<E> {
    /// The handler failed; its claim was released, so the next delivery handles the event.
    #[error("the handler failed: {0}")]
    Handler(E),
    /// The deduplicator could not claim or complete the event. When completing failed the
    /// handler ran: the event may be handled once more (at least once, never lost).
    #[error(transparent)]
    Dedup(#[from] DedupError),
}

/// Runs handlers under claims of a [`Deduplicator`]: see the module documentation.
///
/// A claim is a lease ([`Self::lease`], [`DEFAULT_CLAIM_LEASE`]) renewed every third of it
/// while the handler runs; a handler that blocks its thread (no `.await`) keeps it from being
/// renewed, so give slow synchronous work to `spawn_blocking`.
#[derive(Clone)]
pub struct ClaimRunner {
    dedup: Arc<dyn Deduplicator>,
    lease: Duration,
}

impl std::fmt::Debug for ClaimRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimRunner")
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl ClaimRunner {
    /// Claims in `dedup`, with the default lease.
    pub fn new(dedup: Arc<dyn Deduplicator>) -> Self {
        Self {
            dedup,
            lease: DEFAULT_CLAIM_LEASE,
        }
    }

    /// The lease of a claim (at least 3 ms): how long after a crash the event is handled again.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(3));
        self
    }

    /// Claims `event_id`, runs `handler` while renewing the claim, and completes it when the
    /// handler succeeds or releases it when the handler fails. A panic in the handler, or this
    /// future dropped before it ends, releases the claim too (in a spawned task; should that
    /// not run, the claim lapses with its lease).
    pub async fn run<F, T, E>(&self, event_id: &str, handler: F) -> Result<Outcome<T>, RunError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        let claim = self.dedup.claim(event_id, self.lease).await;
        crate::metrics::dedup(match &claim {
            Ok(Claim::Claimed(_)) => Dedup::Claimed,
            Ok(Claim::InProgress) => Dedup::InProgress,
            Ok(Claim::Completed) => Dedup::Duplicate,
            Err(_) => Dedup::Error,
        });
        let token = match claim? {
            Claim::Claimed(token) => token,
            Claim::InProgress => return Ok(Outcome::InProgress),
            Claim::Completed => return Ok(Outcome::Duplicate),
        };
        let mut guard = ReleaseOnDrop {
            dedup: Some(self.dedup.clone()),
            event_id: event_id.to_owned(),
            token: token.clone(),
        };
        let result = tokio::select! {
            result = handler => result,
            never = self.renew_forever(event_id, &token) => match never {},
        };
        match result {
            Ok(value) => {
                let completed = self.dedup.complete(event_id, &token).await;
                guard.disarm();
                crate::metrics::dedup(match completed {
                    Ok(true) => Dedup::Completed,
                    Ok(false) => Dedup::Lapsed,
                    Err(_) => Dedup::Error,
                });
                if !completed? {
                    tracing::warn!(
                        event_id,
                        "an event was handled after its claim lapsed and another delivery took it"
                    );
                }
                Ok(Outcome::Handled(value))
            }
            Err(error) => {
                guard.disarm();
                crate::metrics::dedup(Dedup::Released);
                self.dedup.release(event_id, &token).await?;
                Err(RunError::Handler(error))
            }
        }
    }

    /// Renews the claim every third of the lease, until dropped.
    async fn renew_forever(&self, event_id: &str, token: &ClaimToken) -> std::convert::Infallible {
        loop {
            tokio::time::sleep(self.lease / 3).await;
            match self.dedup.renew(event_id, token, self.lease).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    event_id,
                    "the claim of an event lapsed while its handler ran (a handler blocking its thread?)"
                ),
                Err(error) => tracing::warn!(event_id, %error, "a claim could not be renewed"),
            }
        }
    }
}

/// Releases a claim when dropped armed (the handler panicked, or the future was dropped).
struct ReleaseOnDrop {
    dedup: Option<Arc<dyn Deduplicator>>,
    event_id: String,
    token: ClaimToken,
}

impl ReleaseOnDrop {
    fn disarm(&mut self) {
        self.dedup = None;
    }
}

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        let Some(dedup) = self.dedup.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // No runtime to release from: the claim lapses with its lease.
        };
        let event_id = std::mem::take(&mut self.event_id);
        let token = self.token.clone();
        runtime.spawn(async move {
            if let Err(error) = dedup.release(&event_id, &token).await {
                tracing::warn!(%error, "an abandoned claim could not be released; it lapses");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::MemoryDeduplicator;

    fn runner() -> (Arc<MemoryDeduplicator>, ClaimRunner) {
        let dedup = Arc::new(MemoryDeduplicator::default());
        (dedup.clone(), ClaimRunner::new(dedup))
    }

    #[tokio::test]
    async fn a_handled_event_is_a_duplicate_and_a_failed_one_is_released_at_once() {
        let (_, runner) = runner();
        let failed = runner.run("f", async { Err::<(), _>("no") }).await;
        assert!(matches!(failed, Err(RunError::Handler("no"))));
        let handled = runner.run("f", async { Ok::<_, ()>(7) }).await.unwrap();
        assert_eq!(handled, Outcome::Handled(7));
        assert_eq!(handled.status(), http::StatusCode::OK);
        let again = runner.run("f", async { Ok::<_, ()>(8) }).await.unwrap();
        assert_eq!(again, Outcome::Duplicate);
        assert_eq!(again.status(), http::StatusCode::OK);
    }

    #[tokio::test]
    async fn while_a_handler_runs_the_event_is_in_progress_and_a_dropped_one_is_released() {
        let (dedup, runner) = runner();
        let mut running = Box::pin(runner.run("r", std::future::pending::<Result<(), ()>>()));
        assert!(
            tokio::time::timeout(Duration::from_millis(10), &mut running)
                .await
                .is_err()
        );
        let retry = runner.run("r", async { Ok::<_, ()>(()) }).await.unwrap();
        assert_eq!(retry, Outcome::InProgress);
        assert_eq!(retry.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        drop(running);
        // The release runs in a spawned task: let it.
        for _ in 0..100 {
            if dedup.is_empty() {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(dedup.is_empty(), "the dropped handler's claim was released");
        let next = runner.run("r", async { Ok::<_, ()>(()) }).await.unwrap();
        assert_eq!(next, Outcome::Handled(()));
    }
}
