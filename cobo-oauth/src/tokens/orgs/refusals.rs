//! [`Refusals`]: the organizations whose grant Cobo refused (they uninstalled the app), each for
//! a while only, and never more than a bounded number of them.

use std::collections::HashMap;

use crate::error::Error;

/// The most refusals remembered at once: ids come from callers and from the install callback,
/// which anyone can call, so the map must not grow with them. Forgetting a refusal costs one
/// more grant request for that organization, nothing else.
const MAX_REFUSALS: usize = 10_000;

/// Cobo's refusal of a grant, kept to answer without asking again.
#[derive(Debug, Clone)]
pub(super) struct Refusal {
    status: u16,
    error: String,
    description: String,
    /// When Cobo refused (ms).
    pub at_ms: u64,
    /// The version of the pair the organization had when Cobo refused; a newer pair in the
    /// store means the organization installed the app again (seen by another process).
    pub version: Option<u64>,
}

impl Refusal {
    /// The refusal `error` (an [`Error::ReauthorizationRequired`]) made at `at_ms`, when the
    /// organization's pair was `version`.
    pub fn new(error: &Error, at_ms: u64, version: Option<u64>) -> Option<Self> {
        match error {
            Error::ReauthorizationRequired {
                status,
                error,
                description,
            } => Some(Self {
                status: *status,
                error: error.clone(),
                description: description.clone(),
                at_ms,
                version,
            }),
            _ => None,
        }
    }

    pub fn to_error(&self) -> Error {
        Error::ReauthorizationRequired {
            status: self.status,
            error: self.error.clone(),
            description: self.description.clone(),
        }
    }

    /// Whether a pair of version `stored` is newer than the one Cobo refused a grant for.
    pub fn superseded_by(&self, stored: u64) -> bool {
        self.version.is_none_or(|refused| stored > refused)
    }
}

/// Refusals by organization, each standing for `recheck_ms` after it was made: then the
/// organization is asked about again (one grant request), in case it installed the app again
/// and the install callback was lost.
#[derive(Debug)]
pub(super) struct Refusals {
    by_org: HashMap<String, Refusal>,
    recheck_ms: u64,
    cap: usize,
}

impl Refusals {
    /// No refusal yet; each will stand for `recheck_ms`, and at most [`MAX_REFUSALS`] at once.
    pub fn new(recheck_ms: u64) -> Self {
        Self::bounded(recheck_ms, MAX_REFUSALS)
    }

    /// As [`Refusals::new`], keeping at most `cap`.
    fn bounded(recheck_ms: u64, cap: usize) -> Self {
        Self {
            by_org: HashMap::new(),
            recheck_ms,
            cap: cap.max(1),
        }
    }

    /// Whether `refusal` still stands at `now_ms`.
    fn stands(&self, refusal: &Refusal, now_ms: u64) -> bool {
        now_ms < refusal.at_ms.saturating_add(self.recheck_ms)
    }

    /// The refusal of `org_id` standing at `now_ms`.
    pub fn get(&self, org_id: &str, now_ms: u64) -> Option<&Refusal> {
        self.by_org
            .get(org_id)
            .filter(|refusal| self.stands(refusal, now_ms))
    }

    /// Records `refusal`; whether it is new (no earlier refusal of `org_id` was remembered).
    /// When full, forgets the refusals that no longer stand, then the oldest.
    pub fn insert(&mut self, org_id: &str, refusal: Refusal) -> bool {
        let now_ms = refusal.at_ms;
        if !self.by_org.contains_key(org_id) && self.by_org.len() >= self.cap {
            let recheck_ms = self.recheck_ms;
            self.by_org
                .retain(|_, r| now_ms < r.at_ms.saturating_add(recheck_ms));
            if self.by_org.len() >= self.cap
                && let Some(oldest) = self
                    .by_org
                    .iter()
                    .min_by_key(|(_, r)| r.at_ms)
                    .map(|(org, _)| org.clone())
            {
                self.by_org.remove(&oldest);
            }
        }
        self.by_org.insert(org_id.to_owned(), refusal).is_none()
    }

    /// Forgets `org_id`'s refusal.
    pub fn remove(&mut self, org_id: &str) {
        self.by_org.remove(org_id);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_org.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_uninstall(error: &Error) -> bool {
        error.is_uninstall()
    }

    fn refused(error: &str, at_ms: u64, version: Option<u64>) -> Refusal {
        let error = Error::ReauthorizationRequired {
            status: 400,
            error: error.to_owned(),
            description: String::new(),
        };
        Refusal::new(&error, at_ms, version).unwrap()
    }

    #[test]
    fn only_refusals_that_mean_an_uninstall_count() {
        let refusal = |status, error: &str| Error::ReauthorizationRequired {
            status,
            error: error.to_owned(),
            description: String::new(),
        };
        for error in ["unauthorized_client", "access_denied", "invalid_grant"] {
            assert!(is_uninstall(&refusal(400, error)), "{error}");
            assert!(is_uninstall(&refusal(403, error)), "{error}");
        }
        assert!(!is_uninstall(&refusal(400, "invalid_request")));
        assert!(!is_uninstall(&refusal(400, "server_error")));
        assert!(!is_uninstall(&refusal(401, "unauthorized_client")));
        assert!(!is_uninstall(&refusal(429, "access_denied")));
        assert!(!is_uninstall(&Error::OAuth {
            status: 400,
            error: "unauthorized_client".to_owned(),
            description: String::new(),
            retry_after: None,
        }));
    }

    #[test]
    fn a_refusal_stands_for_a_while_then_the_org_is_asked_again() {
        let mut refusals = Refusals::bounded(1_000, 10);
        assert!(refusals.insert("a", refused("unauthorized_client", 5_000, Some(3))));
        assert!(refusals.get("a", 5_999).is_some());
        assert!(refusals.get("a", 6_000).is_none(), "expired: re-probe");
        // Refused again: not new (it is not reported twice).
        assert!(!refusals.insert("a", refused("unauthorized_client", 6_000, Some(3))));
        assert!(refusals.get("a", 6_500).is_some());
        refusals.remove("a");
        assert!(refusals.get("a", 6_500).is_none());
        let refusal = refused("unauthorized_client", 0, Some(3));
        assert!(!refusal.superseded_by(3) && refusal.superseded_by(4));
        assert!(refused("unauthorized_client", 0, None).superseded_by(1));
    }

    #[test]
    fn the_map_is_bounded_whatever_ids_come() {
        let mut refusals = Refusals::bounded(1_000, 100);
        for n in 0..10_000_u64 {
            refusals.insert(
                &format!("forged-{n}"),
                refused("unauthorized_client", n, None),
            );
            assert!(refusals.len() <= 100);
        }
        // The newest are kept.
        assert!(refusals.get("forged-9999", 9_999).is_some());
        assert!(refusals.get("forged-0", 9_999).is_none());
    }
}
