//! Organizations that uninstalled the app, and how many token requests are in flight: what a
//! Portal App serving many organizations is tested against.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The `(client_id, org_id)` pairs whose grants and refreshes the mock refuses.
#[derive(Debug, Default)]
pub(crate) struct Uninstalled(HashSet<(String, String)>);

impl Uninstalled {
    /// Refuses `(client_id, org_id)` from now on.
    pub fn insert(&mut self, client_id: &str, org_id: &str) {
        self.0.insert((client_id.to_owned(), org_id.to_owned()));
    }

    /// Accepts `(client_id, org_id)` again.
    pub fn remove(&mut self, client_id: &str, org_id: &str) {
        self.0.remove(&(client_id.to_owned(), org_id.to_owned()));
    }

    /// Whether `(client_id, org_id)` uninstalled the app.
    pub fn contains(&self, client_id: &str, org_id: &str) -> bool {
        self.0.contains(&(client_id.to_owned(), org_id.to_owned()))
    }
}

/// How many `/oauth/token` requests are being handled, and the most at any moment.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    now: AtomicUsize,
    max: AtomicUsize,
}

/// One request in flight; it leaves when dropped (answered, or its connection dropped).
#[derive(Debug)]
pub(crate) struct Entered<'a>(&'a InFlight);

impl InFlight {
    /// Counts one more request until the guard is dropped.
    pub fn enter(&self) -> Entered<'_> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        Entered(self)
    }

    /// The most requests in flight at any moment so far.
    pub fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }

    /// Starts counting the most again from the requests in flight now.
    pub fn reset_max(&self) {
        self.max
            .store(self.now.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}
