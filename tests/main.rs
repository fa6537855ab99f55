//! The workspace's integration tests, in one binary: a module per file, each file a subject
//! (`cargo test -p cobo-oauth-tests --test integration -- MODULE::` runs one subject). Helpers
//! shared by them are the `cobo_oauth_tests` library (`support/`).

#![allow(clippy::unwrap_used, missing_docs)]

mod async_signer;
mod bearer;
mod errors;
mod file_store;
mod hardening;
mod inbound_axum;
mod inbound_context;
mod inbound_dedup;
mod inbound_vectors;
mod metrics;
mod mock;
mod multipart_vectors;
mod org_tokens;
mod org_tokens_redis;
mod redaction;
mod redis_cluster;
mod redis_fleet;
mod redis_replicas;
mod redis_store;
mod redis_tls;
mod retries;
mod tampering;
mod token_lifecycle;
mod token_manager;
mod user_info_tokens;
mod vectors;
mod wire;
