//! [`RedisConnection`]: one standalone Redis (or a primary) through redis-rs's
//! `ConnectionManager`, or a Redis Cluster through its cluster client, behind one type that the
//! stores and the deduplicator send their commands to.

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

use crate::tokens::store::StoreError;

/// A connection to a standalone Redis (a reconnecting [`ConnectionManager`]) or to a Redis
/// Cluster (redis-rs's [`ClusterConnection`], which follows `MOVED`/`ASK` redirections and
/// reconnects to the nodes). Cheap to clone: clones share the connection.
///
/// [`RedisStoreBuilder`](super::RedisStoreBuilder) makes one from its URL, and so does
/// [`connect`](Self::connect); for a [`RedisDeduplicator`](crate::inbound::RedisDeduplicator)
/// give it either kind, or make one yourself:
///
/// ```no_run
/// # async fn f() -> redis::RedisResult<()> {
/// use cobo_oauth::tokens::redis::RedisConnection;
/// let nodes = ["redis://10.0.0.1:6379", "redis://10.0.0.2:6379"];
/// let cluster = redis::cluster::ClusterClient::new(nodes)?.get_async_connection().await?;
/// let connection = RedisConnection::from(cluster);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub enum RedisConnection {
    /// One Redis server (or a primary with replicas).
    Single(ConnectionManager),
    /// A Redis Cluster.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Single(_) => "RedisConnection::Single",
            Self::Cluster(_) => "RedisConnection::Cluster",
        })
    }
}

impl From<ConnectionManager> for RedisConnection {
    fn from(connection: ConnectionManager) -> Self {
        Self::Single(connection)
    }
}

impl From<ClusterConnection> for RedisConnection {
    fn from(connection: ClusterConnection) -> Self {
        Self::Cluster(connection)
    }
}

impl RedisConnection {
    /// Connects to the Redis at `url`: `redis[s]://…` for one server, or
    /// `redis[s]+cluster://[user:password@]host:port[,host:port…]` for a Redis Cluster (see the
    /// [module documentation](super#redis-cluster)), with the default timeout and, for TLS,
    /// the system's CA roots. Errors are those of
    /// [`RedisStoreBuilder::connect`](super::RedisStoreBuilder::connect).
    pub async fn connect(url: impl Into<String>) -> Result<Self, StoreError> {
        super::RedisStore::builder(url, "", "")
            .reach_connection()
            .await
    }

    /// Whether it speaks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// Sends `command` to the node at `host:port` (on a standalone Redis: to it). Unlike a
    /// route by slot, which redis-rs falls back from to the command's own routing (a random
    /// node for `SCAN`) while its view of the topology is stale, a node that cannot be reached
    /// is an error.
    pub(super) async fn on_node(&self, host: &str, port: u16, command: Cmd) -> RedisResult<Value> {
        match self.clone() {
            Self::Single(mut connection) => command.query_async(&mut connection).await,
            Self::Cluster(mut connection) => {
                let node = SingleNodeRoutingInfo::ByAddress {
                    host: host.to_owned(),
                    port,
                };
                connection
                    .route_command(command, RoutingInfo::SingleNode(node))
                    .await
            }
        }
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}
