//! [`Schedule`]: when each organization's token is due for a background renewal.

use std::collections::{BTreeSet, HashMap};

/// Due times (Unix milliseconds) of organizations, earliest first; one per organization.
#[derive(Debug, Default)]
pub(super) struct Schedule {
    due: BTreeSet<(u64, String)>,
    by_org: HashMap<String, u64>,
    /// Failed renewals in a row, per organization (for its backoff).
    failures: HashMap<String, u32>,
    /// How long before expiry the renewal at the due time is for, when the due time was
    /// computed from it: the renewal then uses the same, so that it never finds the token fresh
    /// and wakes for nothing.
    ahead: HashMap<String, u64>,
}

impl Schedule {
    /// Schedules `org_id` at `due_ms`, replacing its earlier due time.
    pub fn set(&mut self, org_id: &str, due_ms: u64) {
        self.ahead.remove(org_id);
        if let Some(old) = self.by_org.insert(org_id.to_owned(), due_ms) {
            self.due.remove(&(old, org_id.to_owned()));
        }
        self.due.insert((due_ms, org_id.to_owned()));
    }

    /// Schedules `org_id` at `due_ms` for a renewal that wants a token valid for longer than
    /// `ahead_ms`.
    pub fn set_ahead(&mut self, org_id: &str, due_ms: u64, ahead_ms: u64) {
        self.set(org_id, due_ms);
        self.ahead.insert(org_id.to_owned(), ahead_ms);
    }

    /// Schedules `org_id` at `due_ms` unless it is already scheduled.
    pub fn add(&mut self, org_id: &str, due_ms: u64) {
        if !self.by_org.contains_key(org_id) {
            self.set(org_id, due_ms);
        }
    }

    /// Whether `org_id` is scheduled.
    pub fn is_scheduled(&self, org_id: &str) -> bool {
        self.by_org.contains_key(org_id)
    }

    /// Stops scheduling `org_id`.
    pub fn remove(&mut self, org_id: &str) {
        if let Some(old) = self.by_org.remove(org_id) {
            self.due.remove(&(old, org_id.to_owned()));
        }
        self.failures.remove(org_id);
        self.ahead.remove(org_id);
    }

    /// The earliest due time.
    pub fn next_due(&self) -> Option<u64> {
        self.due.first().map(|(due, _)| *due)
    }

    /// Takes the earliest organization due at or before `now_ms`, with the `ahead_ms` it was
    /// scheduled for ([`Self::set_ahead`]).
    pub fn pop_due(&mut self, now_ms: u64) -> Option<(String, Option<u64>)> {
        let (due, _) = self.due.first()?;
        if *due > now_ms {
            return None;
        }
        let (_, org) = self.due.pop_first()?;
        self.by_org.remove(&org);
        let ahead = self.ahead.remove(&org);
        Some((org, ahead))
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
        assert_eq!(schedule.pop_due(100), Some(("a".to_owned(), None)));
        assert_eq!(schedule.pop_due(100), Some(("b".to_owned(), None)));
        assert_eq!(schedule.pop_due(100), None);
        schedule.set("c", 1);
        schedule.remove("c");
        assert!(schedule.next_due().is_none());
        assert_eq!((schedule.failed("d"), schedule.failed("d")), (1, 2));
        schedule.succeeded("d");
        assert_eq!(schedule.failed("d"), 1);
    }

    #[test]
    fn a_renewal_runs_for_the_margin_its_due_time_was_computed_with() {
        let mut schedule = Schedule::default();
        schedule.set_ahead("a", 10, 2_500);
        assert_eq!(schedule.pop_due(10), Some(("a".to_owned(), Some(2_500))));
        schedule.set_ahead("b", 10, 2_500);
        schedule.set("b", 20); // rescheduled without one: a fresh draw then
        assert_eq!(schedule.pop_due(20), Some(("b".to_owned(), None)));
    }
}
