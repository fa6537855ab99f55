#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! - [`hooks`]: [`Hooks`], the [`Executor`] trait, and what the generated glue calls.
//! - [`operation`]: [`Operation`], what the generated client knows of each operation (its
//!   method, path, and whether it takes an Org Access Token).
//! - [`open_enum`]: [`OpenEnum`], the type of every enum-typed field and parameter: a listed
//!   value, or an unlisted one kept as it came.
//! - [`paging`]: [`Paged`], the request of a list operation that pages with Cobo's `after`
//!   cursor (the generator implements it for every such operation).
//! - [`secret`]: [`SecretText`], the type of the generated types' token fields.

pub mod hooks;
pub mod open_enum;
pub mod operation;
pub mod paging;
pub mod secret;

pub use hooks::{ExecError, ExecFuture, Executor, Hooks};
pub use open_enum::OpenEnum;
pub use operation::Operation;
pub use paging::{Paged, next_cursor};
pub use secret::SecretText;
