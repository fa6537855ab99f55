//! `concurrent`: `CoboClient::get_token` next to plain reqwest doing the same signing and
//! verification, against one local nginx that answers every `/v2/oauth/token` with the same
//! signed token response. Two groups, each in three interleaved rounds (cobo, reqwest, cobo,
//! reqwest, ...):
//!
//! - `concurrent`: a multi-thread runtime, 64 tasks each making calls back to back (64 in
//!   flight); one iteration is 64 calls.
//! - `sequential`: one call at a time.
//!
//! At the end it prints calls/s for each side and round (from criterion's own samples: the median
//! of the per-iteration times), the ratio cobo/reqwest per round, and the median ratio.
//!
//! Needs `nginx` (on `PATH` or in `/usr/sbin`): the bench starts it on a free loopback port with
//! a configuration in a temporary directory, and stops it at the end. Without nginx it says so and
//! measures nothing.
//!
//! ```sh
//! cargo bench -p cobo-oauth-bench --bench concurrent
//! ```

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cobo_oauth::generated::types::GetTokenResponse;
use cobo_oauth::signing::{
    CoboAuth, Digest, Ed25519Signer, NonceSource, Signer as _, encode_query,
};
use cobo_oauth::tokens::Token;
use cobo_oauth::verify::{ResponseVerifier, Verdict};
use cobo_oauth::{CoboClient, Env};
use criterion::{Criterion, Throughput};

const SECRET: &str = "a84fa52a55b98b9bcfd79fb55e019b002b4bb23a6654708cfe7dd1d46c55e950";
const CLIENT_ID: &str = "pvSwS8iFrfK0oZrB0ugG54XPDOLEv0Ij";
const ORG_ID: &str = "e3986401-4aec-480a-973d-e775a4518413";
const BODY: &str = r#"{"access_token":"AnCEPEp5Q8qjAOA1Lb6kVd2OlkCyJnMTeMPdLbPOM8cz176Eb5y7EJoUjJJ0vkzz","token_type":"Bearer","scope":"","expires_in":43199,"refresh_token":"rK49jI0zt49gsttzscscik15Asmlpu1TdcxqguJJS8B9f6ilJEC0y3PbVqwsEAw5"}"#;
const TIMESTAMP: &str = "1764000000000";
/// The key nginx's answer is signed with: fixed, as ed25519 verification takes a little more or
/// less time depending on the key and signature, and runs are compared with each other.
const RESPONSE_SEED: [u8; 32] = [7; 32];
const IN_FLIGHT: u64 = 64;
const ROUNDS: usize = 3;
const SAMPLES: usize = 30;

/// nginx on a loopback port, stopped on drop.
struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// The nginx binary, if installed.
    fn binary() -> Option<PathBuf> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
            .map(|dir| dir.join("nginx"))
            .find(|candidate| candidate.is_file())
    }

    /// Starts nginx answering `GET /v2/oauth/token` with [`BODY`], signed by `response_key`.
    fn start(binary: &Path, response_key: &Ed25519Signer) -> Self {
        let content = format!("{BODY}|{TIMESTAMP}");
        let signature = response_key
            .sign_digest(&Digest::sha256d(content.as_bytes()))
            .to_hex();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let conf = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server {{
        listen 127.0.0.1:{port};
        location = /v2/oauth/token {{
            default_type application/json;
            add_header Biz-Timestamp {TIMESTAMP} always;
            add_header Biz-Resp-Signature {signature} always;
            return 200 '{BODY}';
        }}
    }}
}}
"#,
            dir = dir.path().display(),
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let nginx = Self {
            child,
            port,
            _dir: dir,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not start listening on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v2", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Plain reqwest doing what the client does for `get_token`: the Python SDK's query encoding,
/// a fresh nonce, CoboAuth headers, the same request headers, the body read, the response
/// signature verified and the token parsed.
struct Plain {
    http: reqwest::Client,
    auth: CoboAuth,
    nonces: Arc<NonceSource>,
    verifier: ResponseVerifier,
    base_url: String,
}

impl Plain {
    async fn get_token(&self) -> Token {
        let query = encode_query([
            ("client_id", CLIENT_ID),
            ("grant_type", "org_implicit"),
            ("org_id", ORG_ID),
        ]);
        let url = format!("{}/oauth/token?{query}", self.base_url);
        let nonce = self.nonces.next().to_string();
        let signed = self
            .auth
            .sign_parts("GET", "/v2/oauth/token", &nonce, &query, b"")
            .unwrap();
        let mut request = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header("api-version", "1.0.0")
            .build()
            .unwrap();
        signed.headers.apply(request.headers_mut());
        let response = self.http.execute(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap();
        let verdict = self.verifier.check(status, &headers, &body).unwrap();
        assert_eq!(verdict, Verdict::Verified);
        serde_json::from_slice::<GetTokenResponse>(&body)
            .unwrap()
            .into()
    }
}

/// The reqwest client `CoboClient` builds by default, built the same way for the plain side.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(cobo_oauth::DEFAULT_CONNECT_TIMEOUT)
        .timeout(cobo_oauth::DEFAULT_TIMEOUT)
        .user_agent("cobo-oauth-bench")
        .build()
        .unwrap()
}

/// Criterion's samples of each benchmark (iterations, elapsed), to print calls/s at the end.
type Samples = Arc<Mutex<BTreeMap<String, Vec<(u64, Duration)>>>>;

fn record(samples: &Samples, id: &str, iters: u64, elapsed: Duration) {
    samples
        .lock()
        .unwrap()
        .entry(id.to_owned())
        .or_default()
        .push((iters, elapsed));
}

/// The median time of one iteration over the measured samples (criterion's last `SAMPLES`
/// calls of the routine; the earlier ones are its warm-up).
fn median_per_iteration(samples: &[(u64, Duration)]) -> f64 {
    let mut times: Vec<f64> = samples[samples.len().saturating_sub(SAMPLES)..]
        .iter()
        .map(|(iters, elapsed)| elapsed.as_secs_f64() / *iters as f64)
        .collect();
    times.sort_by(f64::total_cmp);
    median(&times)
}

fn median(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn run(c: &mut Criterion, client: &CoboClient, plain: &Arc<Plain>, samples: &Samples) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // One warm-up of each side: connections open, the nonce source in use.
    runtime.block_on(async {
        client.get_token(CLIENT_ID, ORG_ID).await.unwrap();
        plain.get_token().await;
    });

    let mut group = c.benchmark_group("concurrent");
    group.throughput(Throughput::Elements(IN_FLIGHT));
    for round in 1..=ROUNDS {
        let id = format!("cobo_oauth/round{round}");
        group.bench_function(&id, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let client = client.clone();
                let samples = Arc::clone(samples);
                let id = id.clone();
                async move {
                    let started = Instant::now();
                    let tasks: Vec<_> = (0..IN_FLIGHT)
                        .map(|_| {
                            let client = client.clone();
                            tokio::spawn(async move {
                                for _ in 0..iters {
                                    client.get_token(CLIENT_ID, ORG_ID).await.unwrap();
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                    let elapsed = started.elapsed();
                    record(&samples, &format!("concurrent/{id}"), iters, elapsed);
                    elapsed
                }
            })
        });
        let id = format!("reqwest/round{round}");
        group.bench_function(&id, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let plain = Arc::clone(plain);
                let samples = Arc::clone(samples);
                let id = id.clone();
                async move {
                    let started = Instant::now();
                    let tasks: Vec<_> = (0..IN_FLIGHT)
                        .map(|_| {
                            let plain = Arc::clone(&plain);
                            tokio::spawn(async move {
                                for _ in 0..iters {
                                    plain.get_token().await;
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                    let elapsed = started.elapsed();
                    record(&samples, &format!("concurrent/{id}"), iters, elapsed);
                    elapsed
                }
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("sequential");
    group.throughput(Throughput::Elements(1));
    for round in 1..=ROUNDS {
        let id = format!("cobo_oauth/round{round}");
        group.bench_function(&id, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let samples = Arc::clone(samples);
                let id = id.clone();
                async move {
                    let started = Instant::now();
                    for _ in 0..iters {
                        client.get_token(CLIENT_ID, ORG_ID).await.unwrap();
                    }
                    let elapsed = started.elapsed();
                    record(&samples, &format!("sequential/{id}"), iters, elapsed);
                    elapsed
                }
            })
        });
        let id = format!("reqwest/round{round}");
        group.bench_function(&id, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let samples = Arc::clone(samples);
                let id = id.clone();
                async move {
                    let started = Instant::now();
                    for _ in 0..iters {
                        plain.get_token().await;
                    }
                    let elapsed = started.elapsed();
                    record(&samples, &format!("sequential/{id}"), iters, elapsed);
                    elapsed
                }
            })
        });
    }
    group.finish();
}

/// Prints calls/s per side and round, the ratio cobo/reqwest per round, and the median ratio.
fn summarize(samples: &Samples) {
    let samples = samples.lock().unwrap();
    for (group, calls_per_iteration) in [("concurrent", IN_FLIGHT), ("sequential", 1)] {
        let mut ratios = Vec::new();
        for round in 1..=ROUNDS {
            // Only measured benchmarks: in test mode (without `--bench`) each ran once.
            let rate = |side: &str| {
                samples
                    .get(&format!("{group}/{side}/round{round}"))
                    .filter(|s| s.len() > SAMPLES)
                    .map(|s| calls_per_iteration as f64 / median_per_iteration(s))
            };
            if let (Some(cobo), Some(plain)) = (rate("cobo_oauth"), rate("reqwest")) {
                println!(
                    "{group} round {round}: cobo_oauth {cobo:.0} calls/s, reqwest {plain:.0} calls/s, ratio {:.3}",
                    cobo / plain
                );
                ratios.push(cobo / plain);
            }
        }
        if !ratios.is_empty() {
            ratios.sort_by(f64::total_cmp);
            println!(
                "{group}: median ratio cobo_oauth / reqwest over {} rounds: {:.3}",
                ratios.len(),
                median(&ratios)
            );
        }
    }
}

fn main() {
    let Some(binary) = Nginx::binary() else {
        eprintln!(
            "concurrent: skipped, nginx is not installed (apt-get install nginx-light); nothing measured"
        );
        return;
    };
    let response_key = Ed25519Signer::from_seed(&RESPONSE_SEED);
    let nginx = Nginx::start(&binary, &response_key);
    let env = Env::custom(&nginx.base_url(), response_key.api_key().as_str()).unwrap();
    let client = CoboClient::builder()
        .env(env)
        .api_secret(SECRET)
        .build()
        .unwrap();
    let nonces = Arc::new(NonceSource::default());
    let plain = Arc::new(Plain {
        http: http_client(),
        auth: CoboAuth::new(
            Arc::new(Ed25519Signer::from_hex(SECRET).unwrap()),
            Arc::clone(&nonces),
        ),
        nonces,
        verifier: ResponseVerifier::from_hex(response_key.api_key().as_str()).unwrap(),
        base_url: nginx.base_url(),
    });
    let samples = Samples::default();
    let mut criterion = Criterion::default()
        .sample_size(SAMPLES)
        .configure_from_args();
    run(&mut criterion, &client, &plain, &samples);
    criterion.final_summary();
    summarize(&samples);
    drop(nginx);
}
