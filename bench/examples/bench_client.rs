//! The Rust side of `bench/compare.py`: sequential `get_token` calls against a local server.
//!
//! `cargo run --release --example bench_client -- BASE_URL RESPONSE_KEY CALLS WARMUP`
//! prints `{"client": ..., "calls": N, "seconds": S}`.

use cobo_oauth::{CoboClient, Env};

const SECRET: &str = "a84fa52a55b98b9bcfd79fb55e019b002b4bb23a6654708cfe7dd1d46c55e950";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base_url, response_key, calls, warmup] = args.as_slice() else {
        return Err("usage: bench_client BASE_URL RESPONSE_KEY CALLS WARMUP".into());
    };
    let calls: u32 = calls.parse()?;
    let warmup: u32 = warmup.parse()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = CoboClient::builder()
            .env(Env::custom(base_url, response_key)?)
            .api_secret(SECRET)
            .build()?;
        let call = || {
            client.get_token(
                "pvSwS8iFrfK0oZrB0ugG54XPDOLEv0Ij",
                "e3986401-4aec-480a-973d-e775a4518413",
            )
        };
        for _ in 0..warmup {
            call().await?;
        }
        let started = std::time::Instant::now();
        for _ in 0..calls {
            call().await?;
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{{\"client\": \"cobo-oauth (Rust)\", \"calls\": {calls}, \"seconds\": {seconds}}}"
        );
        Ok(())
    })
}
