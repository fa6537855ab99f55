#![doc = include_str!("../README.md")]
//!
//! # Modules, top-down
//!
//! All private; what they offer is re-exported here.
//! - `spec`: reading and writing specs (YAML or JSON): [`load_spec`], [`read_file`],
//!   [`write_file`].
//! - `normalize`: the rules that rewrite what progenitor cannot take, with their report
//!   ([`Normalized`]).
//! - `import`: copying operations by `operationId`, tag, or method and path, with their
//!   components ([`import()`], [`import_file`]).
//! - `settings`, `glue`, `locate`, `generate`: progenitor's settings, the generated hooks and
//!   `OPERATIONS` table, finding the operation behind a progenitor failure, and the whole run.
//! - `varnames`: enum variants named by `x-enum-varnames`, their values kept as the wire form.
//! - [`Codegen`]: the builder over all of it ([`generate`] is its one-call form).
//! - `union`: [`UnionTypes`], the types of one discriminated `oneOf` and an open enum over
//!   them, without any operation (webhook event data).

mod builder;
mod error;
mod generate;
mod glue;
mod import;
mod locate;
mod normalize;
mod settings;
mod spec;
mod union;
mod varnames;

pub use builder::{Codegen, Generated, OUT_FILE, generate};
pub use error::CodegenError;
pub use generate::{DEFAULT_DEADLINE, HEADER};
pub use import::{ImportError, Imported, Select, import, import_file};
pub use locate::GenerateError;
pub use normalize::{Change, NormalizeError, Normalized, Skipped};
pub use settings::{DEFAULT_RUNTIME, SECRET_EXTENSION};
pub use spec::{load_spec, read_file, write_file};
pub use union::{GeneratedUnion, UnionTypes};
