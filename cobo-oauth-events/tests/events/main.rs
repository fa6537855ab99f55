//! `cobo-oauth-events` against Cobo's official spec: one event of every data type it lists
//! (made from the spec itself), an unknown type, broken data, the envelopes, the committed copy.

#![allow(clippy::unwrap_used, missing_docs)]

mod copy;
mod data_types;
mod envelopes;
mod errors;
mod open_enums;
mod samples;
