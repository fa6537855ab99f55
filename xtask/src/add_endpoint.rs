//! `cargo xtask add-endpoint`: copies operations (by method and path, `operationId` or tag), and
//! every component they reference, from a spec (Cobo's official one by default) into another
//! (ours by default), with `cobo-oauth-codegen`'s import.

use std::path::Path;

use cobo_oauth_codegen::{Select, import_file};

use crate::task::TaskError;

/// Imports `selection` from `from` into `into` and says what was added.
pub fn run(selection: &[Select], from: &Path, into: &Path) -> Result<(), TaskError> {
    let imported = import_file(from, into, selection)?;
    for operation in &imported.operations {
        eprintln!("added {operation}");
    }
    for operation in &imported.unchanged {
        eprintln!("already there: {operation}");
    }
    eprintln!(
        "{} operation(s) and {} component(s) added to {}; now run `cargo xtask codegen` (or build the crate whose build.rs generates from it)",
        imported.operations.len(),
        imported.components,
        into.display()
    );
    Ok(())
}
