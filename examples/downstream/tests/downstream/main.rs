//! The downstream crate's tests, in one binary: its generated client through the mock, and a
//! broken spec failing its build script with a located error.

#![allow(clippy::unwrap_used, missing_docs)]

mod broken_spec;
mod multipart;
mod open_enums;
mod paging;
mod through_the_mock;
