//! [`RedisDeduplicator`] (feature `redis`): "seen before?" shared by a fleet of replicas, with
//! `SET <prefix><event_id> 1 NX EX <ttl>`: of all the replicas that receive one event, exactly one
//! gets [`Seen::First`].

use std::time::Duration;

use redis::aio::ConnectionManager;

use super::dedup::{DedupError, DedupFuture, Deduplicator, Seen};

/// Event IDs in Redis, each for a time to live.
#[derive(Clone)]
pub struct RedisDeduplicator {
    connection: ConnectionManager,
    prefix: String,
    ttl_secs: u64,
}

impl std::fmt::Debug for RedisDeduplicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDeduplicator")
            .field("prefix", &self.prefix)
            .field("ttl_secs", &self.ttl_secs)
            .finish()
    }
}

impl RedisDeduplicator {
    /// Keys `<prefix><event_id>` (e.g. prefix `cobo:webhook:seen:`), each kept `ttl` (at least a
    /// second; use [`super::DEFAULT_DEDUP_TTL`] unless you know better).
    pub fn new(connection: ConnectionManager, prefix: impl Into<String>, ttl: Duration) -> Self {
        Self {
            connection,
            prefix: prefix.into(),
            ttl_secs: ttl.as_secs().max(1),
        }
    }

    fn key(&self, event_id: &str) -> String {
        format!("{}{event_id}", self.prefix)
    }
}

/// The kind and code of a Redis error, never the command (which names the key).
fn failed(error: redis::RedisError) -> DedupError {
    let reason = match error.code() {
        Some(code) => format!("Redis: {:?} ({code})", error.kind()),
        None => format!("Redis: {:?}", error.kind()),
    };
    DedupError { reason }
}

impl Deduplicator for RedisDeduplicator {
    fn check_and_mark<'a>(&'a self, event_id: &'a str) -> DedupFuture<'a, Seen> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let set: Option<String> = redis::cmd("SET")
                .arg(self.key(event_id))
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(self.ttl_secs)
                .query_async(&mut connection)
                .await
                .map_err(failed)?;
            Ok(if set.is_some() {
                Seen::First
            } else {
                Seen::Duplicate
            })
        })
    }

    fn forget<'a>(&'a self, event_id: &'a str) -> DedupFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            redis::cmd("DEL")
                .arg(self.key(event_id))
                .query_async::<()>(&mut connection)
                .await
                .map_err(failed)
        })
    }
}
