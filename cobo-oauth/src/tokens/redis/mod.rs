//! [`RedisStore`]: one token pair shared by a fleet of processes, with a refresh lease
//! (cargo feature `redis`); [`RedisOrgStore`], the same for every organization of a Portal App.
//!
//! Use it when more than one process acts for the same organization: several replicas of your
//! app, a worker beside a web server. Refresh tokens are single-use, so two processes that each
//! refresh the same pair on their own kill each other's refresh token, and with bad luck the
//! organization has to reinstall the app. `FileStore` and the default in-memory store are for
//! one process.
//!
//! ```toml
//! cobo-oauth = { version = "0.1", features = ["redis"] }
//! ```
//!
//! ```rust,no_run
//! use std::sync::Arc;
//! use cobo_oauth::CoboClient;
//! use cobo_oauth::tokens::redis::{EncryptionKey, RedisStore};
//! use cobo_oauth::tokens::TokenManager;
//!
//! # async fn run(client: CoboClient) -> Result<(), Box<dyn std::error::Error>> {
//! let key = EncryptionKey::from_hex(&std::env::var("COBO_TOKEN_ENCRYPTION_KEY")?)?;
//! let store = RedisStore::builder("redis://:password@redis.internal:6379/0", "client id", "org id")
//!     .encryption_key(key)          // or, knowingly, .plaintext()
//!     .connect()
//!     .await?;                      // or RedisStoreBuilder::from_env("client id", "org id")?.connect()
//! let tokens = TokenManager::builder(client, "client id", "org id")
//!     .store(Arc::new(store))
//!     .lease_ttl(std::time::Duration::from_secs(45))   // the default: how long a dead holder blocks
//!     .build();
//! let access_token = tokens.access_token().await?;
//! # Ok(()) }
//! ```
//!
//! - **One refresh for the whole fleet.** A process that finds the token stale re-reads Redis,
//!   then takes the refresh lease (`SET NX PX`, one per `(client_id, org_id)`); only the holder
//!   calls Cobo, and it extends the lease every third of `lease_ttl` for as long as it works, so
//!   a slow refresh keeps it. The others poll Redis and take the new pair when it appears, or get
//!   `Error::RefreshBusy` (transient) once a call has waited `lease_wait` (default: the lease TTL
//!   plus 15 s), counted from the call, however many callers queue.
//! - **No lost refresh token.** Every pair carries a version; a save is a compare-and-set script
//!   that writes only a newer version, so a slow process can never put back an older refresh
//!   token. If the new pair cannot be saved, its holder keeps the lease (extending it) and retries
//!   the save in the background until it lands, so nobody else spends the old refresh token
//!   meanwhile.
//! - **A holder that dies mid-refresh.** Its lease expires after `lease_ttl`; the next holder
//!   re-reads the store first (the dead one may have saved), and if it has not, it sees from a
//!   per-version send counter that the refresh token was already sent. It never sends it again:
//!   it recovers with one new `org_implicit` grant and logs a warning that says what happened. A
//!   send that never left its process (signing failed, no connection) is taken back from the
//!   counter.
//! - **Redis down or restarting.** Callers get `Error::Store` (transient) or wait, never an old or
//!   half-written token; a pair the store cannot confirm saved stays in memory and is saved
//!   again. Run Redis with `appendonly yes` and `appendfsync always`: the guarantees above hold
//!   only while Redis keeps what it acknowledged. A Redis that restarts empty, or loses its last
//!   second of writes (`everysec`) forgets the lease, the send counter and possibly the newest
//!   pair: a refresh in flight can then be sent twice, and the fleet may need a new
//!   `org_implicit` grant. A failover to a replica is covered where replicas acknowledge those
//!   writes: see [Replication and failover](#replication-and-failover).
//! - **Secrets at rest.** The pair is sealed with XChaCha20-Poly1305 under your 32-byte
//!   [`EncryptionKey`] (every process needs the same key; make one with
//!   `EncryptionKey::generate().to_hex()`), bound to its key name and version, so a value copied
//!   to another key or version does not decrypt. Choosing `.plaintext()` stores the pair as JSON:
//!   anyone who can read Redis, its dumps or its replicas can then act for the organization.
//!   There is no default: `connect()` refuses to guess.
//! - **TLS.** Use a `rediss://` URL. By default the server's certificate must chain to the
//!   system's CA roots (`/etc/ssl/certs` and the like, read by rustls-native-certs). For a private
//!   CA, give it with `.tls_ca_pem(pem)` or `.tls_ca_file(path)`: it is then the only CA trusted.
//!   For a server that asks for client certificates (`tls-auth-clients yes`), add
//!   `.tls_client_cert_pem(cert_pem, key_pem)` or `.tls_client_cert_files(cert, key)`; the key
//!   never appears in `Debug`, and the copies this crate makes are zeroized (redis-rs keeps its
//!   own parsed copy for reconnecting). An untrusted server certificate, or a server that refuses
//!   the client certificate, is [`StoreError::Tls`]: permanent (`Error::is_permanent`), not
//!   retried.
//! - **ACL users.** Put the user in the URL: `redis://cobo:password@redis.internal:6379/0`. It
//!   needs the keys `~cobo-oauth:*` (or your prefix) and the commands `HMGET HINCRBY SET EVALSHA
//!   EVAL SCRIPT|LOAD`, plus `HGET HSET DEL GET PEXPIRE` that its scripts call (and `SCAN` for
//!   `RedisOrgStore`), e.g. `ACL SETUSER cobo on >password ~cobo-oauth:* -@all +hmget +hincrby
//!   +set +evalsha +eval +script|load +hget +hset +del +get +pexpire`. A wrong or missing password
//!   (`WRONGPASS`, `NOAUTH`), a missing permission (`NOPERM`) or a script error is
//!   [`StoreError::Refused`]: permanent, so it is reported rather than retried. Connection
//!   failures, timeouts, a loading or failing-over server stay [`StoreError::Io`] (transient).
//! - **Configuration from the environment.** [`RedisStoreBuilder::from_env`] reads
//!   `COBO_REDIS_URL`, and `COBO_TOKEN_ENCRYPTION_KEY` (64 hex characters) or
//!   `COBO_TOKEN_PLAINTEXT=1`; for TLS, `COBO_REDIS_CA_FILE`, and `COBO_REDIS_CLIENT_CERT_FILE`
//!   with `COBO_REDIS_CLIENT_KEY_FILE` ([`vars`]). The URL's password never appears in errors or
//!   `Debug`.
//!
//! # Keys
//!
//! Per `(client_id, org_id)`, under a prefix (default `cobo-oauth`, changed with
//! `.key_prefix(..)`), three keys share the hash tag `{client_id:org_id}`:
//! - `…:pair`, a hash: `version`, `expires_at_ms`, `format` and `payload` (the sealed pair, or
//!   plaintext JSON if the user opts in). A save is one Lua script: it writes only if its version
//!   is higher than the stored one.
//! - `…:lease`, the refresh lease: `SET NX PX` with a random holder id; released by a script that
//!   deletes it only for its holder.
//! - `…:refresh-sends`, how often each version's refresh token was sent; cleared by every save,
//!   so a count left over means a holder died between sending and saving.
//!
//! # Redis Cluster
//!
//! Give a `redis+cluster://` URL (`rediss+cluster://` for TLS) with one or more seed nodes:
//! `redis+cluster://cobo:password@10.0.0.1:6379,10.0.0.2:6379`. The credentials apply to every
//! node; the TLS options ([`tls_ca_pem`](RedisStoreBuilder::tls_ca_pem) and the others) too.
//! redis-rs's cluster client learns the slots with `CLUSTER SLOTS`, follows `MOVED` and `ASK`
//! itself and reconnects to nodes that come and go; a command that still fails (a cluster that
//! is down, `CLUSTERDOWN`, `TRYAGAIN`, a slot moving for longer than its few tries) is
//! [`StoreError::Io`], transient. An organization's three keys share one hash tag, so they
//! live in one slot and its scripts run there; [`RedisOrgStore`] lists organizations with `SCAN`
//! on every primary. [`RedisDeduplicator`](crate::inbound::RedisDeduplicator) takes a
//! [`RedisConnection`] of either kind. A cluster user also needs `+cluster|slots`.
//!
//! # Replication and failover
//!
//! Redis replicates asynchronously: a write a primary acknowledged and lost before replicating
//! is gone after a failover. For the writes that guard a refresh (the lease, the send count and
//! the saved pair) that would mean a refresh token sent twice or a rotated pair lost, so each is
//! followed by `WAIT 1 <timeout>` on the connection that wrote it (routed to the key's primary).
//! The guarded writes of one connection (every organization of a [`RedisOrgStore`]) share two
//! connections of their own, so a waiting `WAIT` holds up no load, lease extension or release;
//! but Redis answers a connection's commands in order, so a guarded write can wait behind the
//! `WAIT`s sent before it on its connection (each up to the timeout) when replicas lag.
//! - the lease and the send count must be acknowledged by a replica before the refresh is sent;
//!   when none acknowledges in time the lease is given back, the count taken back, and the
//!   renewal fails with a transient [`StoreError::Io`] (nothing was sent);
//! - a saved pair no replica acknowledged in time is still handed out (it is valid), kept in
//!   memory and saved again every 200 ms until a replica acknowledges it. The refresh lease is
//!   kept meanwhile, so that a failover cannot let another process refresh the previous pair:
//!   before each of those saves its time to live is set to 45 s (the default `lease_ttl`, or
//!   three saves' worth of timeouts if longer), so it lasts while the process lives and keeps
//!   saving the pair, and runs out that long after the process is gone. That is the limit: a
//!   pair no replica has, whose process died, is lost if the primary fails over before a
//!   replica catches up. It is logged (a warning) and counted:
//!   [`RedisStore::saves_waiting_for_replica`] (and [`RedisOrgStore::saves_waiting_for_replica`])
//!   above 0 for long means a replica is gone.
//!
//! [`RedisStoreBuilder::replica_ack`] chooses: [`ReplicaAck::WhereReplicas`] (the default)
//! waits where the key's primary has replicas online (`INFO replication`, checked every few
//! seconds), so a Redis without replicas works exactly as without this; [`ReplicaAck::Required`]
//! always waits; [`ReplicaAck::Off`] never does. [`RedisStoreBuilder::replica_ack_timeout`]
//! sets the wait (default [`DEFAULT_REPLICA_ACK_TIMEOUT`]). A standalone primary with replicas
//! (and Sentinel, or a managed service that fails over) is covered the same way.
//!
//! The guarantee: with one replica per primary (per shard), a write acknowledged by it survives
//! the primary's failover to it. With more replicas, `WAIT 1` promises only that one of them has
//! it: a failover to another one that lagged can still lose it (Redis Cluster and Sentinel
//! prefer the replica with the most data, which narrows but does not close that gap). `WAIT` is
//! no consensus either: a replica that acknowledged and then restarted without persistence, or a
//! manual failover to a lagging replica, loses writes all the same. Run replicas with
//! `appendonly yes`, like the primary.
//!
//! ACL: besides the commands above, a user needs `+wait +info` (the replica acknowledgements;
//! a user denied `INFO` works as before, waiting for no replica, with a warning that says so),
//! and on a cluster `+cluster|slots`: e.g. `ACL SETUSER cobo on >password ~cobo-oauth:* -@all
//! +hmget +hincrby +set +evalsha +eval +script|load +hget +hset +del +get +pexpire +scan +wait
//! +info +cluster|slots`.
//!
//! [`StoreError::Tls`]: crate::tokens::StoreError::Tls
//! [`StoreError::Refused`]: crate::tokens::StoreError::Refused
//! [`StoreError::Io`]: crate::tokens::StoreError::Io

mod builder;
mod cluster;
mod connection;
mod errors;
mod keys;
mod last_sealed;
mod orgs;
mod replication;
mod scripts;
mod sealing;
mod store;
mod tls;

pub use builder::{DEFAULT_REDIS_TIMEOUT, RedisStoreBuilder, vars};
pub use connection::RedisConnection;
pub use orgs::RedisOrgStore;
pub use replication::{DEFAULT_REPLICA_ACK_TIMEOUT, ReplicaAck};
pub use sealing::EncryptionKey;
pub use store::RedisStore;
