//! A real `redis-server` on loopback for the Redis store tests: started in a temporary
//! directory with an fsync-always append-only file, killed with SIGKILL and restarted on the
//! same port and data. Plain TCP, or TLS only (`--port 0 --tls-port`) with a [`TestPki`]'s
//! certificates.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TestPki;

/// The binary: `$REDIS_SERVER`, or `redis-server` on the `PATH`.
fn binary() -> String {
    std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned())
}

/// Whether a TLS server asks its clients for a certificate (`--tls-auth-clients`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCerts {
    /// `no`: any client may connect.
    NotAsked,
    /// `yes`: only clients with a certificate signed by the server's CA.
    Required,
}

/// A running `redis-server`. Killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    /// `Some` for a TLS-only server: whether it asks for client certificates.
    tls: Option<ClientCerts>,
    /// `Some` for a replica: its primary's port.
    replica_of: Option<u16>,
}

impl RedisServer {
    /// Starts one on a free loopback port. Panics, saying how to install it, when there is no
    /// `redis-server`.
    pub fn start() -> Self {
        Self::start_with(None, None)
    }

    /// Starts one that speaks only TLS, with `pki`'s server certificate, trusting `pki`'s CA for
    /// client certificates.
    pub fn start_tls(pki: &TestPki, clients: ClientCerts) -> Self {
        Self::start_with(Some(pki), Some(clients))
    }

    /// Starts a replica of `primary` (plain TCP) and waits until its link to the primary is up
    /// and in sync.
    pub fn start_replica_of(primary: &RedisServer) -> Self {
        let mut replica = Self::start_with_role(None, None, Some(primary.port));
        replica.wait_in_sync();
        replica
    }

    fn start_with(pki: Option<&TestPki>, tls: Option<ClientCerts>) -> Self {
        Self::start_with_role(pki, tls, None)
    }

    fn start_with_role(
        pki: Option<&TestPki>,
        tls: Option<ClientCerts>,
        replica_of: Option<u16>,
    ) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let dir = tempfile::tempdir().expect("a temporary directory");
        if let Some(pki) = pki {
            for (name, pem) in [
                ("ca.crt", &pki.ca_pem),
                ("server.crt", &pki.server_cert_pem),
                ("server.key", &pki.server_key_pem),
            ] {
                std::fs::write(dir.path().join(name), pem).expect("a certificate file");
            }
        }
        let mut server = Self {
            child: None,
            port,
            dir,
            tls,
            replica_of,
        };
        server.spawn();
        server
    }

    /// `redis://127.0.0.1:<port>/0`, or `rediss://…` for a TLS server.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}/0", self.port)
    }

    /// Its data directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// Kills it with SIGKILL (no shutdown, no final save) and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops it with SIGSTOP: it keeps its connections but answers nothing (a replica then
    /// acknowledges nothing) until [`resume`](Self::resume).
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a [`pause`](Self::pause)d server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self
            .child
            .as_ref()
            .expect("a running server")
            .id()
            .to_string();
        let sent = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill {signal} {pid}");
    }

    /// Sends one command (no arguments with spaces) and returns its answer as text.
    pub fn query(&self, args: &[&str]) -> String {
        let client = redis::Client::open(self.url()).unwrap();
        let mut connection = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap();
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        let value: redis::Value = command.query(&mut connection).unwrap();
        match value {
            redis::Value::Nil => String::new(),
            redis::Value::Okay => "OK".to_owned(),
            redis::Value::Int(n) => n.to_string(),
            other => redis::from_redis_value::<String>(other).unwrap(),
        }
    }

    /// Waits until this replica's link to its primary is up, its first sync is done, and the
    /// primary counts it online (only then does it count the replica's acknowledgements).
    fn wait_in_sync(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let primary = self
            .replica_of
            .map(|port| redis::Client::open(format!("redis://127.0.0.1:{port}/0")).unwrap());
        let online = format!("port={},state=online", self.port);
        while Instant::now() < deadline {
            let info = self.query(&["INFO", "replication"]);
            let seen_online = primary.as_ref().is_none_or(|primary| {
                primary
                    .get_connection()
                    .and_then(|mut c| {
                        redis::cmd("INFO")
                            .arg("replication")
                            .query::<String>(&mut c)
                    })
                    .is_ok_and(|info| info.contains(&online))
            });
            if info.contains("master_link_status:up")
                && info.contains("master_sync_in_progress:0")
                && seen_online
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the replica on port {} did not sync", self.port);
    }

    /// Starts it again on the same port and data directory; the append-only file brings back
    /// every acknowledged write.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn spawn(&mut self) {
        let port = self.port.to_string();
        let dir = self
            .dir
            .path()
            .to_str()
            .expect("a UTF-8 temporary path")
            .to_owned();
        let mut command = Command::new(binary());
        if let Some(primary) = self.replica_of {
            command.args(["--replicaof", "127.0.0.1", &primary.to_string()]);
        }
        match self.tls {
            None => command.args(["--port", &port]),
            Some(clients) => command
                .args(["--port", "0", "--tls-port", &port])
                .args([
                    "--tls-cert-file",
                    "server.crt",
                    "--tls-key-file",
                    "server.key",
                ])
                .args(["--tls-ca-cert-file", "ca.crt", "--tls-auth-clients"])
                .arg(match clients {
                    ClientCerts::NotAsked => "no",
                    ClientCerts::Required => "yes",
                }),
        };
        let log = self.dir.path().join("redis.log");
        let log_start = std::fs::metadata(&log).map_or(0, |m| m.len());
        let child = command
            .current_dir(&dir)
            .args(["--bind", "127.0.0.1", "--dir", &dir])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                // A replica syncs at once (not after the default 5 s wait for others).
                "--repl-diskless-sync-delay",
                "0",
            ])
            .args(["--daemonize", "no", "--logfile", "redis.log"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}): the Redis store tests need a real Redis server; \
                     install Debian's redis-server package (apt-get install redis-server) or \
                     set REDIS_SERVER to its path",
                    binary()
                )
            });
        self.child = Some(child);
        self.wait_ready(log_start);
    }

    /// Waits until it answers `PING` (plain) or logs that it is ready since `log_start` (TLS).
    fn wait_ready(&mut self, log_start: u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.ready(log_start) {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let log =
                    std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
                panic!("redis-server exited with {status}:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not answer PING on port {}", self.port);
    }

    fn ready(&self, log_start: u64) -> bool {
        if self.tls.is_none() {
            return self.ping();
        }
        let log = std::fs::read(self.dir.path().join("redis.log")).unwrap_or_default();
        let new = log
            .get(usize::try_from(log_start).unwrap_or(usize::MAX)..)
            .unwrap_or_default();
        String::from_utf8_lossy(new).contains("Ready to accept connections")
    }

    fn ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0_u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
