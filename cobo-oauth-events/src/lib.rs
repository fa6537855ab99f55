#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! - [`types`]: the generated types of every data shape, from Cobo's official spec
//!   (`openapi/cobo-waas2-openapi.yaml`, `#/components/schemas/WebhookEventData` and what it
//!   references, and `Transaction`), after the normalization `cobo-oauth-gen`'s spec gets. A
//!   committed copy in `generated/events.rs`, written by `cargo xtask codegen` and checked by a
//!   test: never edited by hand.
//!   Every use of an enum (a transaction's `status`, a `data_type`) is an [`OpenEnum`] of it:
//!   a value the spec lists reads as its variant, any other is kept as it came.
//! - [`EventData`] (generated too): the enum by `data_type`.
//! - [`TypedData`]: the accessor on `cobo-oauth`'s envelopes, and [`DataError`].

mod error;
mod typed;

#[allow(
    missing_docs,
    clippy::all,
    clippy::unwrap_used,
    unused_imports,
    dead_code,
    rustdoc::all
)]
mod generated {
    include!("../generated/events.rs");
}

pub use cobo_oauth::runtime::OpenEnum;
pub use error::DataError;
pub use generated::{EventData, types};
pub use typed::TypedData;
