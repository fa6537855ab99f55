#![doc = include_str!("../README.md")]

#[allow(
    missing_docs,
    clippy::all,
    clippy::unwrap_used,
    unused_imports,
    dead_code,
    rustdoc::all
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/client.rs"));
}

pub use cobo_oauth_runtime as runtime;
pub use generated::*;

#[cfg(test)]
mod tests {
    /// `build.rs` and `cargo xtask codegen` run the same code path of `cobo-oauth-codegen`, so
    /// what this build generated is the committed copy, byte for byte.
    #[test]
    fn the_committed_copy_is_what_build_rs_generated() {
        let built = include_str!(concat!(env!("OUT_DIR"), "/client.rs"));
        let committed = include_str!("../generated/client.rs");
        assert!(
            built == committed,
            "generated/client.rs differs from what build.rs generated; run `cargo xtask codegen`"
        );
    }
}
