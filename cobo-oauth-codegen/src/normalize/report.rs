//! The report `cargo xtask codegen` prints: what was rewritten, what was skipped.

use std::fmt::Write as _;

use super::model::Normalized;
use super::operations;

impl Normalized {
    /// How many operations the normalized spec has.
    pub fn operations(&self) -> usize {
        operations::list(&self.spec).len()
    }

    /// One line per change, per note (what a rule left as it is, and why) and per skipped
    /// operation.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "normalization: {} change(s), {} operation(s) skipped",
            self.changes.len(),
            self.skipped.len()
        );
        for change in self.changes.iter().chain(&self.notes) {
            let operation = change
                .operation
                .as_ref()
                .map(|o| format!(" ({o})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  [{}] {}{operation}: {}",
                change.rule, change.pointer, change.detail
            );
        }
        for skipped in &self.skipped {
            let _ = writeln!(
                out,
                "  [skipped] {} ({}): {}",
                skipped.pointer, skipped.operation, skipped.reason
            );
        }
        out
    }
}
