//! Replica acknowledgement of the writes that guard a refresh: each is followed by
//! `WAIT 1 <timeout>` on the connection that wrote, routed to the key's primary. Those
//! connections are the guarded writes' own (so a waiting `WAIT` holds up none of the process's
//! other commands), shared by all of them: a guarded write can wait behind an earlier one's
//! `WAIT`. A saved pair that no replica acknowledged is kept here and saved again until one
//! does, the refresh lease kept for it extended meanwhile.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::cluster_routing::Slot;
use redis::{Cmd, ErrorKind, FromRedisValue, RedisResult, ServerErrorKind};
use tokio::sync::OnceCell;

use super::connection::RedisConnection;
use super::scripts;

/// Whether the writes that guard a refresh (the lease, the send count, the saved pair) wait for
/// a replica's acknowledgement (`WAIT 1 <timeout>`) before the refresh is sent or the pair
/// handed out. Set with [`RedisStoreBuilder::replica_ack`](super::RedisStoreBuilder::replica_ack).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReplicaAck {
    /// Never wait: a failover to a replica that missed the newest writes may lose them.
    Off,
    /// Wait where the key's primary has replicas online (`INFO replication`: `slave<n>` lines
    /// with `state=online`, checked every few seconds); a Redis without replicas works as if
    /// `Off`, and so does a user the ACL denies `INFO` (with a warning). The default.
    #[default]
    WhereReplicas,
    /// Always wait: a primary without a replica that acknowledges refuses the lease and the
    /// send count (a transient error: no refresh is sent) and keeps a saved pair waiting.
    Required,
}

/// The default time a guarded write waits for a replica's acknowledgement.
pub const DEFAULT_REPLICA_ACK_TIMEOUT: Duration = Duration::from_secs(1);

/// How many connections of their own the guarded writes share.
const GUARD_CONNECTIONS: usize = 2;
/// How long a primary's answer to "has it replicas?" is trusted.
const REPLICAS_CHECKED_FOR: Duration = Duration::from_secs(5);
/// The pause between two saves of a pair no replica acknowledged yet.
const RESAVE_PAUSE: Duration = Duration::from_millis(200);
/// The least a refresh lease kept for a waiting save is extended to, before each save of it.
const LEASE_KEPT_AT_LEAST: Duration = crate::tokens::DEFAULT_LEASE_TTL;

/// What a guarded write's `WAIT` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Acked {
    /// A replica acknowledged it.
    Yes,
    /// Nothing to wait for: acknowledgements are off, or the primary has no replica.
    NotNeeded,
    /// Replicas are connected (or one is required) and none acknowledged in time.
    No,
}

/// Makes the connections of the guarded writes, when first needed.
pub(super) type GuardConnector = Box<
    dyn Fn() -> std::pin::Pin<
            Box<dyn std::future::Future<Output = RedisResult<RedisConnection>> + Send>,
        > + Send
        + Sync,
>;

/// A pair saved on a primary that no replica acknowledged yet: kept (sealed) to be saved again.
struct PendingSave {
    /// The pair's version.
    version: u64,
    /// The save, with the same sealed payload each time (so that saving it again on a primary
    /// that still holds it rewrites it, and a replica acknowledges the rewrite).
    save: scripts::SaveArgs,
    /// The refresh lease given back while the save waited: released once it is acknowledged.
    lease: Option<(String, String)>,
}

/// The replica acknowledgements of one connection (shared by every store of it).
pub(super) struct Replication {
    mode: ReplicaAck,
    /// Whether the connection is to a Redis Cluster (whose primaries are told apart by slot).
    cluster: bool,
    timeout: Duration,
    /// What a refresh lease kept for a waiting save is extended to before each save of it: it
    /// outlasts several saves (each bounded by the guard connections' response timeout).
    lease_kept_for: Duration,
    connector: GuardConnector,
    guards: OnceCell<Vec<RedisConnection>>,
    next_guard: AtomicUsize,
    /// Whether `INFO` was refused (ACL) and that was logged.
    info_refused: AtomicBool,
    /// Per primary (a cluster: per hash slot), whether it had connected replicas, and when that
    /// was checked.
    replicas: Mutex<HashMap<Option<Slot>, (bool, Instant)>>,
    /// Saves waiting for a replica, by pair key.
    pending: Mutex<HashMap<String, PendingSave>>,
}

impl std::fmt::Debug for Replication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replication")
            .field("mode", &self.mode)
            .field("timeout", &self.timeout)
            .field("waiting", &self.waiting())
            .finish()
    }
}

impl Replication {
    /// Acknowledgements in `mode`, waiting up to `timeout`, on connections `connector` makes
    /// (to a Redis Cluster if `cluster`) whose commands time out after `guard_timeout`.
    pub fn new(
        mode: ReplicaAck,
        timeout: Duration,
        guard_timeout: Duration,
        cluster: bool,
        connector: GuardConnector,
    ) -> Self {
        Self {
            mode,
            cluster,
            timeout,
            lease_kept_for: RESAVE_PAUSE
                .saturating_add(guard_timeout)
                .saturating_mul(3)
                .max(LEASE_KEPT_AT_LEAST),
            connector,
            guards: OnceCell::new(),
            next_guard: AtomicUsize::new(0),
            info_refused: AtomicBool::new(false),
            replicas: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// How many saved pairs wait for a replica's acknowledgement.
    pub fn waiting(&self) -> usize {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Runs `write` (a command whose first key is `key`) and, where replicas must acknowledge
    /// it, `WAIT 1 <timeout>` right after it on the same connection: the write's answer, and
    /// whether a replica acknowledged it.
    pub async fn write<T: FromRedisValue>(
        &self,
        main: &RedisConnection,
        key: &str,
        write: Cmd,
    ) -> RedisResult<(T, Acked)> {
        let wait = match self.mode {
            ReplicaAck::Off => false,
            ReplicaAck::Required => true,
            ReplicaAck::WhereReplicas => self.has_replicas(main, key).await?,
        };
        if !wait {
            let mut connection = main.clone();
            let answer: T = write.query_async(&mut connection).await?;
            return Ok((answer, Acked::NotNeeded));
        }
        self.write_and_wait(key, write).await
    }

    /// `write` then `WAIT` (then, where replicas are waited for only if present,
    /// `INFO replication`), pipelined on a guard connection: one send to the key's primary, so
    /// the `WAIT` counts this write, a reconnection between them fails both, and the `INFO`
    /// describes the very primary that wrote (a keyless command alone could be routed to
    /// another node while the cluster's topology changes).
    async fn write_and_wait<T: FromRedisValue>(
        &self,
        key: &str,
        write: Cmd,
    ) -> RedisResult<(T, Acked)> {
        let mut guard = self.guard().await?;
        let timeout_ms = u64::try_from(self.timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut pipe = redis::pipe();
        pipe.add_command(write).cmd("WAIT").arg(1).arg(timeout_ms);
        let (answer, acks, info): (T, i64, Option<String>) = if self.mode == ReplicaAck::Required {
            let (answer, acks): (T, i64) = pipe.query_async(&mut guard).await?;
            (answer, acks, None)
        } else {
            pipe.cmd("INFO").arg("replication");
            let (answer, acks, info): (T, i64, String) = pipe.query_async(&mut guard).await?;
            (answer, acks, Some(info))
        };
        if acks >= 1 {
            return Ok((answer, Acked::Yes));
        }
        // Nobody acknowledged: a primary whose replicas are gone (a promoted replica, say) has
        // nothing to wait for, unless a replica is required.
        if let Some(info) = info {
            let replicas = connected_replicas(&info) > 0;
            self.remember(key, replicas);
            if !replicas {
                return Ok((answer, Acked::NotNeeded));
            }
        }
        Ok((answer, Acked::No))
    }

    /// Whether the primary of `key` has connected replicas: `INFO replication` pipelined after
    /// a command naming `key` (so that it reaches that primary: alone, a keyless command could
    /// be routed to another node while the cluster's topology changes), trusted for a few
    /// seconds.
    async fn has_replicas(&self, main: &RedisConnection, key: &str) -> RedisResult<bool> {
        let primary = self.cluster.then(|| Slot::for_key(key));
        let known = self
            .replicas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&primary)
            .copied();
        if let Some((replicas, checked)) = known
            && checked.elapsed() < REPLICAS_CHECKED_FOR
        {
            return Ok(replicas);
        }
        // A script that names `key` and does nothing routes the pipeline to its primary, and
        // needs no command beyond those the store's ACL user already has.
        let mut pipe = redis::pipe();
        pipe.cmd("EVAL")
            .arg("return 0")
            .arg(1)
            .arg(key)
            .ignore()
            .cmd("INFO")
            .arg("replication");
        let mut connection = main.clone();
        let replicas = match pipe.query_async::<(String,)>(&mut connection).await {
            Ok((info,)) => connected_replicas(&info) > 0,
            // An ACL user set up before replicas were waited for: it works as it did, warned.
            Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoPerm) => {
                if !self.info_refused.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "the Redis user may not run INFO, so the store cannot tell whether replicas must acknowledge its writes and waits for none; grant it +info +wait"
                    );
                }
                false
            }
            Err(error) => return Err(error),
        };
        self.remember(key, replicas);
        Ok(replicas)
    }

    /// Remembers whether the primary of `key` has replicas.
    fn remember(&self, key: &str, replicas: bool) {
        let primary = self.cluster.then(|| Slot::for_key(key));
        self.replicas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(primary, (replicas, Instant::now()));
    }

    /// One of the guard connections (made on first use).
    async fn guard(&self) -> RedisResult<RedisConnection> {
        let guards = self
            .guards
            .get_or_try_init(|| async {
                let mut guards = Vec::with_capacity(GUARD_CONNECTIONS);
                for _ in 0..GUARD_CONNECTIONS {
                    guards.push((self.connector)().await?);
                }
                Ok::<_, redis::RedisError>(guards)
            })
            .await?;
        let next = self.next_guard.fetch_add(1, Ordering::Relaxed);
        Ok(guards[next % guards.len()].clone())
    }

    /// Keeps `save` (of the pair `save.pair_key`, version `version`), which no replica
    /// acknowledged, to be saved again until one does; starts the task that does it unless one
    /// runs for that pair.
    pub fn keep(self: &Arc<Self>, main: &RedisConnection, version: u64, save: scripts::SaveArgs) {
        let key = save.pair_key.clone();
        if self.hold(version, save) {
            let replication = Arc::clone(self);
            let main = main.clone();
            tokio::spawn(async move { replication.save_until_acknowledged(main, key).await });
        }
    }

    /// Keeps `save` (of `version`) unless a newer pair is kept for its key: whether no pair was
    /// kept for it before (a task must be started to save it again).
    fn hold(&self, version: u64, save: scripts::SaveArgs) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        match pending.get_mut(&save.pair_key) {
            // The task saving the older (or the same) pair saves this one from now on; an older
            // save that finished late (a newer one overtook it) replaces nothing.
            Some(kept) => {
                if version >= kept.version {
                    kept.version = version;
                    kept.save = save;
                }
                false
            }
            None => {
                let key = save.pair_key.clone();
                let kept = PendingSave {
                    version,
                    save,
                    lease: None,
                };
                pending.insert(key, kept);
                crate::metrics::save_awaits_replica();
                true
            }
        }
    }

    /// A save of the pair at `key` of `version` or newer was acknowledged (or needs none): the
    /// older kept one is dropped, its lease given back.
    pub async fn settled(&self, main: &RedisConnection, key: &str, version: u64) {
        let lease = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            match pending.get(key) {
                Some(kept) if kept.version <= version => {
                    crate::metrics::save_replicated();
                    pending.remove(key).and_then(|kept| kept.lease)
                }
                _ => None,
            }
        };
        if let Some(lease) = lease {
            release(main, &lease).await;
        }
    }

    /// Whether the lease `lease_key` held by `holder` is kept until the pair at `pair_key` is
    /// acknowledged (then it is released by the task saving it): true when a save waits.
    pub fn defer_release(&self, pair_key: &str, lease_key: &str, holder: &str) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        match pending.get_mut(pair_key) {
            Some(kept) => {
                kept.lease = Some((lease_key.to_owned(), holder.to_owned()));
                true
            }
            None => false,
        }
    }

    /// Saves the kept pair at `key` again and again until a replica acknowledges it (or a newer
    /// pair was saved), then gives back the lease kept for it.
    async fn save_until_acknowledged(self: Arc<Self>, main: RedisConnection, key: String) {
        let mut tries: u64 = 0;
        loop {
            tokio::time::sleep(RESAVE_PAUSE).await;
            let Some((version, command, lease)) = self
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&key)
                .map(|kept| (kept.version, kept.save.command(), kept.lease.clone()))
            else {
                return;
            };
            // The lease kept for it lasts while this process lives and saves it again (not just
            // its time to live): another process may refresh only once it is acknowledged, or
            // some time after this process is gone.
            if let Some(lease) = &lease {
                extend(&main, lease, self.lease_kept_for).await;
            }
            tries += 1;
            let outcome: RedisResult<(i64, Acked)> = self.write_and_wait(&key, command).await;
            let newer = match outcome {
                Ok((-1, Acked::No)) | Err(_) => {
                    if tries.is_multiple_of(25) {
                        tracing::warn!(
                            key = %key,
                            version,
                            tries,
                            "a saved token pair still waits for a replica's acknowledgement"
                        );
                    }
                    continue;
                }
                Ok((-1, _)) => false,
                Ok(_) => true,
            };
            // The lease kept for it is given back first, so that no save waiting means no lease
            // kept either.
            let lease = {
                let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
                match pending.get_mut(&key) {
                    Some(kept) if kept.version == version => kept.lease.take(),
                    Some(_) => continue, // A newer pair of this process waits now: save that.
                    None => return,      // Settled by a newer save.
                }
            };
            if let Some(lease) = lease {
                release(&main, &lease).await;
            }
            {
                let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
                if pending
                    .get(&key)
                    .is_some_and(|kept| kept.version != version)
                {
                    continue;
                }
                if pending.remove(&key).is_some() {
                    crate::metrics::save_replicated();
                }
            }
            if newer {
                tracing::warn!(
                    key = %key,
                    version,
                    "a newer token pair was saved while this one waited for a replica"
                );
            } else {
                tracing::info!(
                    key = %key,
                    version,
                    tries,
                    "the token pair that waited for a replica is saved and acknowledged"
                );
            }
            return;
        }
    }
}

/// The lease scripts of the kept leases, hashed once for the process.
static LEASE_SCRIPTS: std::sync::LazyLock<scripts::LeaseScripts> =
    std::sync::LazyLock::new(scripts::LeaseScripts::default);

/// Extends the lease `(key, holder)` to `ttl` if `holder` still holds it; if that fails, the
/// next save tries again.
async fn extend(main: &RedisConnection, (key, holder): &(String, String), ttl: Duration) {
    let mut connection = main.clone();
    let extended: RedisResult<i64> = LEASE_SCRIPTS
        .extend
        .key(key)
        .arg(holder)
        .arg(crate::millis::millis(ttl).max(1))
        .invoke_async(&mut connection)
        .await;
    if let Err(error) = extended {
        tracing::debug!(kind = ?error.kind(), "extending the refresh lease kept for a waiting save failed");
    }
}

/// Gives back the lease `(key, holder)`; if that fails, it runs out by itself.
async fn release(main: &RedisConnection, (key, holder): &(String, String)) {
    let mut connection = main.clone();
    let released: RedisResult<i64> = LEASE_SCRIPTS
        .release
        .key(key)
        .arg(holder)
        .invoke_async(&mut connection)
        .await;
    if let Err(error) = released {
        tracing::warn!(kind = ?error.kind(), "releasing the refresh lease failed; it will expire");
    }
}

/// How many replicas of an `INFO replication` answer can acknowledge: its `slave<n>:` lines
/// with `state=online` (`connected_slaves` also counts a replica still in its full sync, which
/// acknowledges nothing until it is done). 0 when there are none, or it is not a primary.
fn connected_replicas(info: &str) -> u64 {
    let online = info.lines().filter(|line| {
        let Some((name, fields)) = line.trim().split_once(':') else {
            return false;
        };
        name.strip_prefix("slave")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            && fields.split(',').any(|field| field == "state=online")
    });
    u64::try_from(online.count()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn save(version: u64, payload: &[u8]) -> scripts::SaveArgs {
        scripts::SaveArgs {
            pair_key: "pair".to_owned(),
            sends_key: "sends".to_owned(),
            version,
            expires_at_ms: 1_000,
            format: "plaintext-json",
            payload: zeroize::Zeroizing::new(payload.to_vec()),
        }
    }

    fn kept(replication: &Replication) -> (u64, Vec<u8>) {
        let pending = replication.pending.lock().unwrap();
        let kept = &pending["pair"];
        (kept.version, kept.save.payload.to_vec())
    }

    #[test]
    fn an_older_pair_never_replaces_a_newer_kept_one() {
        let connector: GuardConnector = Box::new(|| {
            Box::pin(async {
                Err(redis::RedisError::from((
                    ErrorKind::Io,
                    "not connected in a unit test",
                )))
            })
        });
        let replication = Replication::new(
            ReplicaAck::Required,
            DEFAULT_REPLICA_ACK_TIMEOUT,
            DEFAULT_REPLICA_ACK_TIMEOUT,
            false,
            connector,
        );
        assert!(
            replication.hold(3, save(3, b"three")),
            "the first one starts a task"
        );
        assert!(!replication.hold(2, save(2, b"two")));
        assert_eq!(kept(&replication), (3, b"three".to_vec()));
        assert!(!replication.hold(4, save(4, b"four")));
        assert_eq!(kept(&replication), (4, b"four".to_vec()));
        assert_eq!(replication.waiting(), 1);
    }

    #[test]
    fn connected_replicas_are_read_from_info() {
        let info = "# Replication\r\nrole:master\r\nconnected_slaves:3\r\n\
            slave0:ip=127.0.0.1,port=7001,state=online,offset=42,lag=0\r\n\
            slave1:ip=127.0.0.1,port=7002,state=wait_bgsave,offset=0,lag=0\r\n\
            slave2:ip=127.0.0.1,port=7003,state=send_bulk,offset=0,lag=0\r\n\
            master_failover_state:no-failover\r\nmaster_repl_offset:42\r\n";
        assert_eq!(
            connected_replicas(info),
            1,
            "only the online replica counts"
        );
        let syncing = "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n\
            slave0:ip=127.0.0.1,port=7001,state=wait_bgsave,offset=0,lag=0\r\n";
        assert_eq!(connected_replicas(syncing), 0, "a replica in its full sync");
        assert_eq!(
            connected_replicas("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"),
            0
        );
        let replica = "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\n\
            slave_read_only:1\r\nslave_repl_offset:42\r\nslave_priority:100\r\n";
        assert_eq!(connected_replicas(replica), 0);
    }
}
