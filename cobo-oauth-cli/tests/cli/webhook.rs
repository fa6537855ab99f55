//! `cobo-oauth webhook send | verify | listen`: the real binary sends signed events to a
//! listening binary, verifies captured requests and says why one fails.

#![allow(clippy::unwrap_used, missing_docs)]

use std::process::{Output, Stdio};

use cobo_oauth_mock::CoboSender;
use tokio::io::{AsyncBufReadExt as _, BufReader};

const SEED: &str = "4f3c2b1a00112233445566778899aabbccddeeff00112233445566778899aabb";

fn seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(SEED, &mut seed).unwrap();
    seed
}

fn command(args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_cobo-oauth"));
    command
        .args(args)
        .env_remove("COBO_ENV")
        .env_remove("COBO_BASE_URL")
        .env_remove("COBO_API_SECRET")
        .env_remove("COBO_RESPONSE_PUBKEY")
        .env_remove("COBO_MOCK_RESPONSE_SEED");
    command
}

async fn cli(args: &[&str]) -> Output {
    command(args).output().await.unwrap()
}

const EVENT: &str = r#"{"event_id":"ev-1","url":"http://localhost/hook","created_timestamp":1,"type":"wallets.updated","data":{"data_type":"WalletInfo"}}"#;

#[tokio::test]
async fn send_delivers_to_listen_which_prints_verified_events_and_refuses_tampered_ones() {
    let key = CoboSender::from_seed(seed()).public_key_hex();
    let mut listener = command(&[
        "--response-pubkey",
        &key,
        "webhook",
        "listen",
        "--port",
        "0",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true)
    .spawn()
    .unwrap();
    let mut stderr = BufReader::new(listener.stderr.take().unwrap()).lines();
    let line = stderr.next_line().await.unwrap().unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .trim_end_matches('/')
        .to_owned()
        + "/cobo/webhook";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("event.json");
    std::fs::write(&file, EVENT).unwrap();
    let file = file.to_str().unwrap();

    let sent = cli(&[
        "webhook",
        "send",
        "--url",
        &url,
        "--event",
        file,
        "--response-seed",
        SEED,
    ])
    .await;
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&sent.stdout).unwrap();
    assert_eq!(report["outcome"], "accepted");
    assert_eq!(report["response_key"], key);
    let mut stdout = BufReader::new(listener.stdout.take().unwrap()).lines();
    let printed: serde_json::Value =
        serde_json::from_str(&stdout.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(printed["event_id"], "ev-1");
    assert_eq!(printed["event"]["type"], "wallets.updated");

    let tampered = cli(&[
        "webhook",
        "send",
        "--url",
        &url,
        "--event",
        file,
        "--response-seed",
        SEED,
        "--tamper",
        "--max-attempts",
        "2",
        "--retry-delay-ms",
        "1",
    ])
    .await;
    assert_eq!(tampered.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&tampered.stdout).unwrap();
    assert_eq!(report["outcome"], "failed");
    assert_eq!(report["attempts"][0]["status"], 401);
    assert_eq!(report["attempts"][1]["status"], 401);
    let refused = stderr.next_line().await.unwrap().unwrap();
    assert!(refused.contains("refused"), "{refused}");
    listener.kill().await.unwrap();
}

fn captured(headers: &[(&str, String)], body: &str) -> String {
    let mut request = "POST /cobo/webhook HTTP/1.1\r\nHost: app\r\n".to_owned();
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request + "\r\n" + body
}

#[tokio::test]
async fn verify_reads_a_captured_request_and_says_why_it_fails() {
    let sender = CoboSender::from_seed(seed());
    let key = sender.public_key_hex();
    let (timestamp, signature) = sender.sign(EVENT.as_bytes(), 1_735_689_600_123);
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let good = write(
        "good.http",
        &captured(
            &[
                ("BIZ_TIMESTAMP", timestamp.clone()),
                ("BIZ_RESP_SIGNATURE", signature.clone()),
            ],
            EVENT,
        ),
    );
    let out = cli(&[
        "--response-pubkey",
        &key,
        "webhook",
        "verify",
        "--request",
        &good,
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["event_id"], "ev-1");
    assert_eq!(printed["timestamp_ms"], 1_735_689_600_123_u64);

    let headers = [
        ("Biz-Timestamp", timestamp.clone()),
        ("Biz-Resp-Signature", signature.clone()),
    ];
    let cases = [
        (captured(&headers, &format!("{EVENT}\n")), "does not verify"),
        (captured(&headers[..1], EVENT), "underscores_in_headers"),
        (
            captured(
                &[headers[0].clone(), ("Biz-Resp-Signature", "zz".into())],
                EVENT,
            ),
            "malformed",
        ),
    ];
    for (n, (request, reason)) in cases.iter().enumerate() {
        let path = write(&format!("bad{n}.http"), request);
        let out = cli(&[
            "--response-pubkey",
            &key,
            "webhook",
            "verify",
            "--request",
            &path,
        ])
        .await;
        assert_eq!(out.status.code(), Some(1), "case {n}");
        let message = String::from_utf8_lossy(&out.stderr);
        assert!(message.contains(reason), "case {n}: {message}");
        assert!(
            !message.contains(&signature),
            "the signature is never shown"
        );
    }
    // Cobo's prod key refuses what the mock's key signed.
    let out = cli(&["--env", "prod", "webhook", "verify", "--request", &good]).await;
    assert_eq!(out.status.code(), Some(1));
    // No key: a usage error.
    let out = cli(&["webhook", "verify", "--request", &good]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--env"));
    // With a freshness window, an old capture is refused as stale.
    let out = cli(&[
        "--response-pubkey",
        &key,
        "webhook",
        "verify",
        "--request",
        &good,
        "--max-age",
        "60",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ms away from now"));
}

/// A capture whose header lines end in LF (as `nc -l` or a text editor saves them) and whose body
/// holds a CRLF blank line of its own: the head ends at the first blank line, not at the body's.
#[tokio::test]
async fn verify_splits_a_capture_with_lf_headers_at_its_first_blank_line() {
    let body = "{\"event_id\":\"ev-2\",\"url\":\"http://localhost/hook\",\"created_timestamp\":1,\r\n\r\n\"type\":\"wallets.updated\",\"data\":{\"data_type\":\"WalletInfo\"}}";
    let sender = CoboSender::from_seed(seed());
    let (timestamp, signature) = sender.sign(body.as_bytes(), 1_735_689_600_123);
    let request = format!(
        "POST /cobo/webhook HTTP/1.1\nHost: app\nBiz-Timestamp: {timestamp}\nBiz-Resp-Signature: {signature}\n\n{body}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lf.http");
    std::fs::write(&path, request).unwrap();
    let out = cli(&[
        "--response-pubkey",
        &sender.public_key_hex(),
        "webhook",
        "verify",
        "--request",
        path.to_str().unwrap(),
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["event_id"], "ev-2");
    assert_eq!(printed["timestamp_ms"], 1_735_689_600_123_u64);
}
