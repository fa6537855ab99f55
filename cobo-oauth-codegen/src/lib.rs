//! Generates a Cobo WaaS 2.0 client from an OpenAPI spec with
//! [progenitor](https://docs.rs/progenitor), signed and verified by `cobo-oauth`.
//!
//! progenitor alone panics on many of Cobo's operations. This crate validates the spec,
//! normalizes the shapes progenitor cannot take into equivalent ones (every rewrite reported),
//! generates the client with the settings `cobo-oauth-gen` uses, and adds the glue that sends
//! every request through `cobo-oauth`'s signing executor. It is what `cargo xtask codegen` and
//! `cobo-oauth-gen`'s `build.rs` run, and what your own `build.rs` can run:
//!
//! ```no_run
//! // build.rs of your crate, with `cobo-oauth-codegen` in [build-dependencies]
//! fn main() -> Result<(), cobo_oauth_codegen::CodegenError> {
//!     cobo_oauth_codegen::generate("openapi/my-cobo.yaml")
//! }
//! ```
//!
//! ```ignore
//! // src/lib.rs of your crate
//! include!(concat!(env!("OUT_DIR"), "/client.rs"));
//! ```
//!
//! A spec problem fails the build with the operation and JSON pointer at fault. Take the
//! operations you need from Cobo's official spec with [`import_file`] (or
//! `cargo xtask add-endpoint --into`).
//!
//! Modules, top-down (all private; what they offer is re-exported here):
//! - `spec`: reading and writing specs (YAML or JSON): [`load_spec`], [`read_file`],
//!   [`write_file`].
//! - `normalize`: the rules that rewrite what progenitor cannot take, with their report
//!   ([`Normalized`]).
//! - `import`: copying operations by `operationId`, tag, or method and path, with their
//!   components ([`import()`], [`import_file`]).
//! - `settings`, `glue`, `locate`, `generate`: progenitor's settings, the generated hooks and
//!   `OPERATIONS` table, finding the operation behind a progenitor failure, and the whole run.
//! - [`Codegen`]: the builder over all of it.

mod builder;
mod error;
mod generate;
mod glue;
mod import;
mod locate;
mod normalize;
mod settings;
mod spec;

pub use builder::{Codegen, Generated, OUT_FILE, generate};
pub use error::CodegenError;
pub use generate::{DEFAULT_DEADLINE, HEADER};
pub use import::{ImportError, Imported, Select, import, import_file};
pub use locate::GenerateError;
pub use normalize::{Change, NormalizeError, Normalized, Skipped};
pub use settings::{DEFAULT_RUNTIME, SECRET_EXTENSION};
pub use spec::{load_spec, read_file, write_file};
