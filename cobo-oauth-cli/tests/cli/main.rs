//! The `cobo-oauth` command's tests, in one binary: each module runs the built command as a
//! user would.

#![allow(clippy::unwrap_used, missing_docs)]

mod api;
mod commands;
mod tokens_store;
mod webhook;
