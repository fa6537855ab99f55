//! [`Schedule`]: when each organization's token is due for a background renewal.

use std::collections::{BTreeSet, HashMap};

/// Due times (Unix milliseconds) of organizations, earliest first; one per organization.
#[derive(Debug, Default)]
pub(super) struct Schedule {
    due: BTreeSet<(u64, String)>,
    by_org: HashMap<String, u64>,
    /// Failed renewals in a row, per organization (for its backoff).
    failures: HashMap<String, u32>,
}

impl Schedule {
    /// Schedules `org_id` at `due_ms`, replacing its earlier due time.
    pub fn set(&mut self, org_id: &str, due_ms: u64) {
        if let Some(old) = self.by_org.insert(org_id.to_owned(), due_ms) {
            self.due.remove(&(old, org_id.to_owned()));
        }
        self.due.insert((due_ms, org_id.to_owned()));
    }

    /// Schedules `org_id` at `due_ms` unless it is already scheduled.
    pub fn add(&mut self, org_id: &str, due_ms: u64) {
        if !self.by_org.contains_key(org_id) {
            self.set(org_id, due_ms);
        }
    }

    /// Stops scheduling `org_id`.
    pub fn remove(&mut self, org_id: &str) {
        if let Some(old) = self.by_org.remove(org_id) {
            self.due.remove(&(old, org_id.to_owned()));
        }
        self.failures.remove(org_id);
    }

    /// The earliest due time.
    pub fn next_due(&self) -> Option<u64> {
        self.due.first().map(|(due, _)| *due)
    }

    /// Takes the earliest organization due at or before `now_ms`.
    pub fn pop_due(&mut self, now_ms: u64) -> Option<String> {
        let (due, _) = self.due.first()?;
        if *due > now_ms {
            return None;
        }
        let (_, org) = self.due.pop_first()?;
        self.by_org.remove(&org);
        Some(org)
    }

    /// Counts one more failure of `org_id`; returns how many in a row.
    pub fn failed(&mut self, org_id: &str) -> u32 {
        let failures = self.failures.entry(org_id.to_owned()).or_default();
        *failures = failures.saturating_add(1);
        *failures
    }

    /// Forgets the failures of `org_id`.
    pub fn succeeded(&mut self, org_id: &str) {
        self.failures.remove(org_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_due_time_per_organization_earliest_first() {
        let mut schedule = Schedule::default();
        schedule.set("a", 30);
        schedule.set("b", 10);
        schedule.set("a", 5);
        schedule.add("b", 1);
        assert_eq!(schedule.next_due(), Some(5));
        assert_eq!(schedule.pop_due(4), None);
        assert_eq!(schedule.pop_due(100).as_deref(), Some("a"));
        assert_eq!(schedule.pop_due(100).as_deref(), Some("b"));
        assert_eq!(schedule.pop_due(100), None);
        schedule.set("c", 1);
        schedule.remove("c");
        assert!(schedule.next_due().is_none());
        assert_eq!((schedule.failed("d"), schedule.failed("d")), (1, 2));
        schedule.succeeded("d");
        assert_eq!(schedule.failed("d"), 1);
    }
}
