//! [`OrgStore`]: one store for the token pairs of every organization of an app.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::error::Error;
use crate::tokens::store::{MemoryStore, StoreFuture, TokenStore};

/// Where an app keeps the token pairs of all the organizations that installed it: it hands out
/// the [`TokenStore`] of one organization (what a [`TokenManager`](crate::TokenManager) uses) and
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

/// Keeps every organization's pair in memory (the default): lost when the process ends.
#[derive(Debug, Default)]
pub struct MemoryOrgStore {
    orgs: Mutex<HashMap<String, Arc<MemoryStore>>>,
}

impl MemoryOrgStore {
    fn locked(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<MemoryStore>>> {
        self.orgs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl OrgStore for MemoryOrgStore {
    fn org(&self, org_id: &str) -> Arc<dyn TokenStore> {
        let store: Arc<MemoryStore> =
            Arc::clone(self.locked().entry(org_id.to_owned()).or_default());
        store
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
