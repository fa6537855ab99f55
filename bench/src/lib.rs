//! Criterion benchmarks of the cobo-oauth workspace (`cargo bench -p cobo-oauth-bench`) and the
//! Rust client that `bench/compare.py` times against the official Python and JS SDKs
//! (`examples/bench_client.rs`). Nothing to import: the benchmarks are in `benches/`.
