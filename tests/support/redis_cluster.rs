//! A real Redis Cluster on loopback for the cluster tests: 3 primaries and 3 replicas
//! (`redis-server --cluster-enabled yes`, each in its own temporary directory with an
//! fsync-always append-only file), joined with `redis-cli --cluster create --cluster-replicas
//! 1`, ready once every node reports `cluster_state:ok` and every replica is in sync. A primary
//! can be killed with SIGKILL and its replica promoted; every node is killed when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How many primaries (each with one replica).
const PRIMARIES: usize = 3;

/// The binaries: `$REDIS_SERVER` / `$REDIS_CLI`, or those on the `PATH`.
fn binary(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// One node of the cluster.
#[derive(Debug)]
struct Node {
    port: u16,
    child: Option<Child>,
}

/// A running Redis Cluster. Killed when dropped.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<Node>,
    dir: tempfile::TempDir,
}

/// A free loopback port whose cluster bus port (port + 10000) is free too.
fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// Starts one node in `node_dir` on a free port. A port found free can be taken before the
/// server binds it (by another test's server or an outgoing connection, the cluster bus port
/// included): a node that exits instead of answering (its own `process_id`) is started again
/// on another port.
fn start_node(node_dir: &std::path::Path) -> Node {
    for _ in 0..5 {
        // A fresh directory each try: nothing of a node that exited is read back.
        let _ = std::fs::remove_dir_all(node_dir);
        std::fs::create_dir(node_dir).expect("a node directory");
        let port = free_port();
        let child = Command::new(binary("REDIS_SERVER", "redis-server"))
            .current_dir(node_dir)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
            ])
            .args(["--cluster-node-timeout", "1000"])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .args(["--repl-diskless-sync-delay", "0"])
            .args(["--daemonize", "no", "--logfile", "redis.log"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start redis-server ({e}): the Redis Cluster tests need Debian's \
                         redis-server package (apt-get install redis-server) or REDIS_SERVER"
                )
            });
        // Ours answers, not another test's server that took the port first.
        let ours = format!("process_id:{}\r\n", child.id());
        let mut node = Node {
            port,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if query(port, &["INFO", "server"]).is_some_and(|info| info.contains(&ours)) {
                return node;
            }
            let exited = node
                .child
                .as_mut()
                .is_some_and(|child| matches!(child.try_wait(), Ok(Some(_))));
            if exited {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    panic!("no redis-server of the cluster started and answered in 5 tries");
}

impl RedisCluster {
    /// Starts 3 primaries and 3 replicas on free loopback ports and waits until the cluster is
    /// ready. Panics, saying how to install them, without `redis-server` and `redis-cli`.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut cluster = Self {
            nodes: Vec::new(),
            dir,
        };
        for n in 0..PRIMARIES * 2 {
            let node_dir = cluster.dir.path().join(format!("node-{n}"));
            cluster.nodes.push(start_node(&node_dir));
        }
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = Command::new(binary("REDIS_CLI", "redis-cli"))
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run redis-cli ({e}): the Redis Cluster tests need it (Debian's \
                     redis-tools, which redis-server depends on) or REDIS_CLI"
                )
            });
        assert!(created.success(), "redis-cli --cluster create failed");
        cluster.wait_ready();
        cluster
    }

    /// `redis+cluster://127.0.0.1:<port>,…` with every node as a seed.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// The ports of the live primaries.
    pub fn primaries(&self) -> Vec<u16> {
        self.live()
            .filter(|port| role(*port).as_deref() == Some("master"))
            .collect()
    }

    /// The port of the primary serving `key`'s slot.
    pub fn primary_of(&self, key: &str) -> u16 {
        let any = self.live().next().expect("a live node");
        let slot: u16 = query(any, &["CLUSTER", "KEYSLOT", key])
            .and_then(|s| s.parse().ok())
            .expect("CLUSTER KEYSLOT");
        self.slot_owner(any, slot).expect("an owner of the slot")
    }

    /// Kills the primary on `port` with SIGKILL and promotes its replica (`CLUSTER FAILOVER
    /// TAKEOVER`), then waits until the cluster serves every slot again. Returns the new
    /// primary's port.
    pub fn fail_over(&mut self, port: u16) -> u16 {
        let replica = self.replica_of(port);
        self.kill(port);
        self.promote(replica);
        replica
    }

    /// The port of the replica of the primary on `port`.
    pub fn replica_of(&self, port: u16) -> u16 {
        let id = query(port, &["CLUSTER", "MYID"]).expect("the primary's id");
        self.live()
            .filter(|p| *p != port)
            .find(|p| {
                query(*p, &["CLUSTER", "NODES"]).is_some_and(|nodes| {
                    nodes.lines().any(|line| {
                        line.contains("myself") && line.split(' ').nth(3) == Some(id.as_str())
                    })
                })
            })
            .expect("a replica of the primary")
    }

    /// Kills the node on `port` with SIGKILL (no shutdown, no final save).
    pub fn kill(&mut self, port: u16) {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.port == port)
            .expect("the node");
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Promotes the replica on `port` (`CLUSTER FAILOVER TAKEOVER`: its primary is dead) and
    /// waits until the cluster serves every slot again.
    pub fn promote(&self, replica: u16) {
        let answer = query(replica, &["CLUSTER", "FAILOVER", "TAKEOVER"]);
        assert_eq!(answer.as_deref(), Some("OK"), "CLUSTER FAILOVER TAKEOVER");
        wait_until(Duration::from_secs(20), "the replica is promoted", || {
            role(replica).as_deref() == Some("master")
        });
        self.wait_ready();
    }

    /// Stops the node on `port` with SIGSTOP: it keeps its connections and answers nothing (a
    /// replica acknowledges nothing) until [`resume`](Self::resume).
    pub fn pause(&self, port: u16) {
        self.signal(port, "-STOP");
    }

    /// Lets a paused node go on (SIGCONT).
    pub fn resume(&self, port: u16) {
        self.signal(port, "-CONT");
    }

    fn signal(&self, port: u16, signal: &str) {
        let node = self
            .nodes
            .iter()
            .find(|n| n.port == port)
            .expect("the node");
        let pid = node
            .child
            .as_ref()
            .expect("a running node")
            .id()
            .to_string();
        let sent = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill {signal} {pid}");
    }

    /// `HGET key field` on the node on `port` (no redirection).
    pub fn hget(&self, port: u16, key: &str, field: &str) -> Option<String> {
        query(port, &["HGET", key, field])
    }

    /// `DBSIZE` of the node on `port`.
    pub fn dbsize(&self, port: u16) -> u64 {
        query(port, &["DBSIZE"])
            .and_then(|n| n.parse().ok())
            .expect("DBSIZE")
    }

    /// How many times the node on `port` ran `command` (`INFO commandstats`).
    pub fn calls(&self, port: u16, command: &str) -> u64 {
        calls(
            &query(port, &["INFO", "commandstats"]).unwrap_or_default(),
            command,
        )
    }

    /// The ports of the nodes still running.
    fn live(&self) -> impl Iterator<Item = u16> + '_ {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.port)
    }

    /// The port of the primary that `asked` says serves `slot`.
    fn slot_owner(&self, asked: u16, slot: u16) -> Option<u16> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{asked}")).ok()?;
        let mut connection = client.get_connection().ok()?;
        let ranges: Vec<redis::Value> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query(&mut connection)
            .ok()?;
        ranges.into_iter().find_map(|range| {
            let redis::Value::Array(fields) = range else {
                return None;
            };
            let (redis::Value::Int(start), redis::Value::Int(end)) = (&fields[0], &fields[1])
            else {
                return None;
            };
            let redis::Value::Array(primary) = &fields[2] else {
                return None;
            };
            let redis::Value::Int(port) = primary[1] else {
                return None;
            };
            (i64::from(slot) >= *start && i64::from(slot) <= *end)
                .then(|| u16::try_from(port).ok())
                .flatten()
        })
    }

    /// Waits until every live node reports `cluster_state:ok` and knows every live node, and
    /// every replica's link to its primary is up and in sync.
    fn wait_ready(&self) {
        let live: Vec<u16> = self.live().collect();
        wait_until(Duration::from_secs(30), "the cluster is ready", || {
            live.iter().all(|port| {
                let Some(info) = query(*port, &["CLUSTER", "INFO"]) else {
                    return false;
                };
                let Some(replication) = query(*port, &["INFO", "replication"]) else {
                    return false;
                };
                let in_sync = !replication.contains("role:slave")
                    || (replication.contains("master_link_status:up")
                        && !replication.contains("master_sync_in_progress:1"));
                info.contains("cluster_state:ok") && in_sync
            })
        });
    }
}

/// How many calls of `command` an `INFO commandstats` answer counts.
pub fn calls(commandstats: &str, command: &str) -> u64 {
    let head = format!("cmdstat_{command}:calls=");
    commandstats
        .lines()
        .find_map(|line| line.trim().strip_prefix(head.as_str()))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The role of the node on `port` (`master`, `slave`).
fn role(port: u16) -> Option<String> {
    let info = query(port, &["INFO", "replication"])?;
    info.lines()
        .find_map(|line| line.trim().strip_prefix("role:"))
        .map(str::to_owned)
}

/// Sends one command to the node on `port` (no redirection); its answer as text.
fn query(port: u16, args: &[&str]) -> Option<String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
    let mut connection = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .ok()?;
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    let value: redis::Value = command.query(&mut connection).ok()?;
    match value {
        redis::Value::Okay => Some("OK".to_owned()),
        redis::Value::Int(n) => Some(n.to_string()),
        other => redis::from_redis_value::<String>(other).ok(),
    }
}

/// Polls `ready` every 50 ms until it holds; panics naming `what` after `limit`.
fn wait_until(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting until {what}");
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
