//! [`RedisDeduplicator`] (feature `redis`): claims shared by a fleet of replicas. A claim is
//! `SET <prefix><event_id> <token> NX PX <lease>` (of all the replicas that receive one event,
//! exactly one gets [`Claim::Claimed`]); renewing, completing and releasing are Lua scripts that
//! act only while the key holds one's own token; a completed event's key is `done`, kept for the
//! time to live.
//!
//! On a Redis Cluster, give it a cluster connection
//! ([`RedisConnection::connect`](crate::tokens::redis::RedisConnection::connect) with a
//! `redis+cluster://` URL, or a redis-rs `ClusterConnection`): every command and script names
//! one key, so each is routed to the primary of that key's slot.

use std::time::Duration;

use crate::tokens::redis::RedisConnection;

use super::dedup::{Claim, ClaimToken, DedupError, DedupFuture, Deduplicator};

/// Event IDs in Redis, each for a time to live.
#[derive(Clone)]
pub struct RedisDeduplicator {
    connection: RedisConnection,
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
    /// Keys `<prefix><event_id>` (e.g. prefix `cobo:webhook:seen:`), a completed one kept `ttl`
    /// (at least a second; use [`super::DEFAULT_DEDUP_TTL`] unless you know better), on a
    /// standalone Redis (a `redis::aio::ConnectionManager`) or a Redis Cluster (a
    /// `redis::cluster_async::ClusterConnection`).
    pub fn new(
        connection: impl Into<RedisConnection>,
        prefix: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        Self {
            connection: connection.into(),
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

/// The value of a completed event's key (a claim's is its token, hex).
const COMPLETED: &str = "done";
/// The value versions before claims wrote (`SET key 1 NX EX ttl`, "seen"): read as completed,
/// as those versions answered it, until it expires.
const LEGACY_SEEN: &str = "1";

/// `KEYS[1]` held by token `ARGV[1]`: extend it to `ARGV[2]` ms. 1 if renewed.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0";

/// `KEYS[1]` held by token `ARGV[1]`, or by nobody: mark it `done` for `ARGV[2]` s. 1 if marked.
const COMPLETE: &str = r"
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] or value == false or value == 'done' then
  redis.call('SET', KEYS[1], 'done', 'EX', ARGV[2])
  return 1
end
return 0";

/// `KEYS[1]` held by token `ARGV[1]`: delete it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

impl Deduplicator for RedisDeduplicator {
    fn claim<'a>(&'a self, event_id: &'a str, lease: Duration) -> DedupFuture<'a, Claim> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let key = self.key(event_id);
            let token = ClaimToken::generate();
            let lease_ms = crate::millis::millis(lease).max(1);
            let set: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(token.as_str())
                .arg("NX")
                .arg("PX")
                .arg(lease_ms)
                .query_async(&mut connection)
                .await
                .map_err(failed)?;
            if set.is_some() {
                return Ok(Claim::Claimed(token));
            }
            let value: Option<String> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut connection)
                .await
                .map_err(failed)?;
            // Gone between the two commands (a lapsed or released claim): in progress until a
            // moment ago, so let Cobo retry rather than race.
            Ok(match value.as_deref() {
                Some(COMPLETED | LEGACY_SEEN) => Claim::Completed,
                _ => Claim::InProgress,
            })
        })
    }

    fn renew<'a>(
        &'a self,
        event_id: &'a str,
        token: &'a ClaimToken,
        lease: Duration,
    ) -> DedupFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let lease_ms = crate::millis::millis(lease).max(1);
            let renewed: i64 = redis::Script::new(RENEW)
                .key(self.key(event_id))
                .arg(token.as_str())
                .arg(lease_ms)
                .invoke_async(&mut connection)
                .await
                .map_err(failed)?;
            Ok(renewed == 1)
        })
    }

    fn complete<'a>(&'a self, event_id: &'a str, token: &'a ClaimToken) -> DedupFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let completed: i64 = redis::Script::new(COMPLETE)
                .key(self.key(event_id))
                .arg(token.as_str())
                .arg(self.ttl_secs)
                .invoke_async(&mut connection)
                .await
                .map_err(failed)?;
            Ok(completed == 1)
        })
    }

    fn release<'a>(&'a self, event_id: &'a str, token: &'a ClaimToken) -> DedupFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let _: i64 = redis::Script::new(RELEASE)
                .key(self.key(event_id))
                .arg(token.as_str())
                .invoke_async(&mut connection)
                .await
                .map_err(failed)?;
            Ok(())
        })
    }
}
