//! [`OrgStore`]: one store for the token pairs of every organization of an app.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::error::Error;
use crate::tokens::store::{MemoryStore, StoreFuture, StoredToken, TokenStore};

/// Where an app keeps the token pairs of all the organizations that installed it: it hands out
/// the [`TokenStore`] of one organization (what a [`TokenManager`](crate::tokens::TokenManager) uses) and
/// lists the organizations it holds a pair for.
///
/// [`MemoryOrgStore`] keeps them in memory, [`DirectoryStore`](super::DirectoryStore) in one
/// file per organization, `RedisOrgStore` (feature `redis`) in Redis, shared by a fleet.
pub trait OrgStore: Send + Sync + fmt::Debug {
    /// The store of `org_id`'s pair. Two calls for the same organization give stores of the same
    /// pair.
    fn org(&self, org_id: &str) -> Arc<dyn TokenStore>;
    /// The organizations this store holds a pair for, in no particular order. Never contains a
    /// secret.
    fn list(&self) -> StoreFuture<'_, Vec<String>>;
    /// Refuses an `org_id` this store cannot keep a pair for ([`Error::InvalidRequest`]), before
    /// anything is asked of Cobo: a grant whose pair cannot be saved would be lost. Accepts any
    /// by default.
    fn check_org_id(&self, org_id: &str) -> Result<(), Error> {
        let _ = org_id;
        Ok(())
    }
}

/// The pairs of a [`MemoryOrgStore`], by organization.
type Pairs = Arc<Mutex<HashMap<String, Arc<MemoryStore>>>>;

fn locked(pairs: &Pairs) -> std::sync::MutexGuard<'_, HashMap<String, Arc<MemoryStore>>> {
    pairs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Keeps every organization's pair in memory (the default): lost when the process ends. Holds
/// an entry only for an organization whose pair was saved: looking up any number of ids costs
/// nothing.
#[derive(Debug, Default)]
pub struct MemoryOrgStore {
    orgs: Pairs,
}

impl MemoryOrgStore {
    fn locked(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<MemoryStore>>> {
        locked(&self.orgs)
    }
}

/// One organization's pair in a [`MemoryOrgStore`]: its entry is made at the first save.
#[derive(Debug)]
struct MemoryOrg {
    orgs: Pairs,
    org_id: String,
}

impl TokenStore for MemoryOrg {
    fn load(&self) -> StoreFuture<'_, Option<StoredToken>> {
        let store = locked(&self.orgs).get(&self.org_id).cloned();
        Box::pin(async move {
            match store {
                Some(store) => store.load().await,
                None => Ok(None),
            }
        })
    }

    fn save<'a>(&'a self, token: &'a StoredToken) -> StoreFuture<'a, ()> {
        let store = Arc::clone(locked(&self.orgs).entry(self.org_id.clone()).or_default());
        Box::pin(async move { store.save(token).await })
    }
}

impl OrgStore for MemoryOrgStore {
    fn org(&self, org_id: &str) -> Arc<dyn TokenStore> {
        Arc::new(MemoryOrg {
            orgs: Arc::clone(&self.orgs),
            org_id: org_id.to_owned(),
        })
    }

    fn list(&self) -> StoreFuture<'_, Vec<String>> {
        let stores: Vec<(String, Arc<MemoryStore>)> = self
            .locked()
            .iter()
            .map(|(org, store)| (org.clone(), Arc::clone(store)))
            .collect();
        Box::pin(async move {
            let mut orgs = Vec::new();
            for (org, store) in stores {
                // Only organizations with a pair: a store handed out but never saved is empty.
                if store.load().await?.is_some() {
                    orgs.push(org);
                }
            }
            Ok(orgs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn looking_up_ids_keeps_nothing_and_two_handles_share_one_pair() {
        let store = MemoryOrgStore::default();
        for n in 0..1_000 {
            assert!(
                store
                    .org(&format!("unknown-{n}"))
                    .load()
                    .await
                    .unwrap()
                    .is_none()
            );
        }
        assert!(store.locked().is_empty());
        assert!(store.list().await.unwrap().is_empty());
        let pair = StoredToken {
            access_token: "at".to_owned().into(),
            refresh_token: "rt".to_owned().into(),
            expires_at_ms: 1,
            version: 1,
            owner: None,
        };
        let (a, b) = (store.org("org"), store.org("org"));
        a.save(&pair).await.unwrap();
        assert_eq!(b.load().await.unwrap().map(|p| p.version), Some(1));
        assert!(
            b.save(&pair).await.is_err(),
            "compare-and-set on the version"
        );
        assert_eq!(store.list().await.unwrap(), vec!["org".to_owned()]);
    }
}
