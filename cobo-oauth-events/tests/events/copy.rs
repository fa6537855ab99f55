//! `generated/events.rs` is what `cargo xtask codegen` generates from the official spec now.

#[test]
fn the_committed_copy_is_what_codegen_generates() {
    let generated = cobo_oauth_codegen::UnionTypes::webhook_event_data(crate::samples::spec_path())
        .generate()
        .unwrap();
    let committed = include_str!("../../generated/events.rs");
    assert!(
        generated.code == committed,
        "generated/events.rs differs from what the spec generates; run `cargo xtask codegen`"
    );
}
