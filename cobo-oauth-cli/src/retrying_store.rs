//! [`RetryingStore`]: the store of `tokens grant`, which retries a failed save for a bounded time
//! and keeps the pair it could not save, so that the command can print it.
//!
//! The grant runs through the library's [`OrgTokens::on_install`](cobo_oauth::tokens::orgs::OrgTokens),
//! which saves through this store: the retries happen inside the library's save, under its
//! single-flight lock and, with Redis, while it holds (and extends) the refresh lease. When the
//! save still fails, the library's hand-back rule applies unchanged: the lease is not given back
//! while a new pair is unsaved, so it stays taken until its time to live runs out once the
//! command has exited, and no other process presents the refresh token this grant replaced.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cobo_oauth::tokens::orgs::OrgStore;

use cobo_oauth::tokens::{
    RefreshLease, StoreError, StoreFuture, StoredToken, TokenOwner, TokenStore,
};
use tokio::time::Instant;

/// The first pause between two tries of a failed save; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause between two tries of a failed save.
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// An [`OrgStore`] whose saves are retried, for up to `retry_for` from the first failure, when
/// they fail with an I/O error (a directory that cannot be written, a store that cannot be
/// reached); other errors (a conflict with a newer pair, a refused permission) are not retried.
/// A pair whose save finally failed is kept, by organization, for [`Self::unsaved`].
#[derive(Debug)]
pub(crate) struct RetryingStore {
    inner: Arc<dyn OrgStore>,
    saves: Arc<Saves>,
}

/// What every organization's store of one [`RetryingStore`] shares.
#[derive(Debug)]
struct Saves {
    retry_for: Duration,
    /// When the retries stop: set at the first failed save, so the budget is spent once.
    deadline: Mutex<Option<Instant>>,
    /// The pairs whose save failed, by organization.
    unsaved: Mutex<HashMap<String, StoredToken>>,
}

impl RetryingStore {
    /// `inner`, with failed saves retried for up to `retry_for`.
    pub(crate) fn new(inner: Arc<dyn OrgStore>, retry_for: Duration) -> Self {
        Self {
            inner,
            saves: Arc::new(Saves {
                retry_for,
                deadline: Mutex::new(None),
                unsaved: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The last pair of `org_id` whose save failed, unless a later save succeeded.
    pub(crate) fn unsaved(&self, org_id: &str) -> Option<StoredToken> {
        self.saves
            .unsaved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(org_id)
            .cloned()
    }
}

impl OrgStore for RetryingStore {
    fn org(&self, org_id: &str) -> Arc<dyn TokenStore> {
        Arc::new(RetryingOrg {
            org_id: org_id.to_owned(),
            inner: self.inner.org(org_id),
            saves: Arc::clone(&self.saves),
        })
    }

    fn list(&self) -> StoreFuture<'_, Vec<String>> {
        self.inner.list()
    }

    fn check_org_id(&self, org_id: &str) -> Result<(), cobo_oauth::Error> {
        self.inner.check_org_id(org_id)
    }
}

/// One organization's store of a [`RetryingStore`].
#[derive(Debug)]
struct RetryingOrg {
    org_id: String,
    inner: Arc<dyn TokenStore>,
    saves: Arc<Saves>,
}

impl RetryingOrg {
    async fn save_retrying(&self, token: &StoredToken) -> Result<(), StoreError> {
        let mut pause = FIRST_PAUSE;
        loop {
            let error = match self.inner.save(token).await {
                Ok(()) => {
                    self.forget_unsaved();
                    return Ok(());
                }
                // A newer pair is stored: the library uses it; nothing is lost.
                Err(conflict @ StoreError::Conflict { .. }) => return Err(conflict),
                Err(error) => error,
            };
            let deadline = self.deadline(&error);
            if !matches!(error, StoreError::Io { .. }) || Instant::now() + pause > deadline {
                self.keep_unsaved(token);
                return Err(error);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    /// When the retries stop; the first failure sets it, and says so.
    fn deadline(&self, error: &StoreError) -> Instant {
        let mut deadline = self
            .saves
            .deadline
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *deadline.get_or_insert_with(|| {
            eprintln!(
                "warning: saving the new pair of organization {:?} failed ({error}); retrying for up to {} s",
                self.org_id,
                self.saves.retry_for.as_secs_f64()
            );
            Instant::now() + self.saves.retry_for
        })
    }

    fn keep_unsaved(&self, token: &StoredToken) {
        self.saves
            .unsaved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(self.org_id.clone(), token.clone());
    }

    fn forget_unsaved(&self) {
        self.saves
            .unsaved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.org_id);
    }
}

impl TokenStore for RetryingOrg {
    fn load(&self) -> StoreFuture<'_, Option<StoredToken>> {
        self.inner.load()
    }

    fn save<'a>(&'a self, token: &'a StoredToken) -> StoreFuture<'a, ()> {
        Box::pin(self.save_retrying(token))
    }

    fn lease(&self) -> Option<&dyn RefreshLease> {
        self.inner.lease()
    }

    fn bound_to(&self) -> Option<&TokenOwner> {
        self.inner.bound_to()
    }

    fn location(&self) -> String {
        self.inner.location()
    }
}
