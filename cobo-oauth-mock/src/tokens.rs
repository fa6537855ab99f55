//! Issued tokens: issue, rotate, expire.

use std::collections::{HashMap, VecDeque};

use rand::Rng as _;
use rand::distributions::Alphanumeric;

/// Who a token belongs to, and until when (ms).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Grant {
    client_id: String,
    org_id: String,
    expires_at: u64,
}

/// A freshly issued pair.
#[derive(Debug, Clone)]
pub(crate) struct Pair {
    pub access_token: String,
    pub refresh_token: String,
}

/// Why a refresh token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshRefused {
    /// Never issued, already used, or expired.
    Unknown,
    /// Issued to another app.
    WrongClient,
}

/// The tokens the server has issued, at most `capacity` of each kind (the oldest forgotten).
#[derive(Debug)]
pub(crate) struct Tokens {
    access: HashMap<String, Grant>,
    refresh: HashMap<String, Grant>,
    /// How often each refresh token was presented, valid or not.
    presented: HashMap<String, usize>,
    /// Issue order of the tokens in `access` and `refresh`, and of first presentations.
    issued: VecDeque<String>,
    presented_order: VecDeque<String>,
    /// Successful refreshes per `(client_id, org_id)`: only a valid refresh token counts, so
    /// it grows with the organizations granted, not with requests.
    refreshes: HashMap<(String, String), usize>,
    capacity: usize,
}

/// How many issued pairs the mock remembers by default ([`super::MockConfig::max_tokens`]).
pub(crate) const DEFAULT_MAX_TOKENS: usize = 100_000;

impl Default for Tokens {
    fn default() -> Self {
        Self::bounded(DEFAULT_MAX_TOKENS)
    }
}

fn random_token() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(64)
        .map(char::from)
        .collect()
}

impl Tokens {
    /// An empty table keeping at most `capacity` pairs and presentation counts.
    pub fn bounded(capacity: usize) -> Self {
        Self {
            access: HashMap::new(),
            refresh: HashMap::new(),
            presented: HashMap::new(),
            issued: VecDeque::new(),
            presented_order: VecDeque::new(),
            refreshes: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Forgets the oldest pairs and counts beyond the capacity.
    fn trim(&mut self) {
        while self.issued.len() > 2 * self.capacity {
            if let Some(token) = self.issued.pop_front() {
                self.access.remove(&token);
                self.refresh.remove(&token);
            }
        }
        while self.presented_order.len() > self.capacity {
            if let Some(token) = self.presented_order.pop_front() {
                self.presented.remove(&token);
            }
        }
    }

    /// Issues a new pair for `(client_id, org_id)`.
    pub fn issue(
        &mut self,
        client_id: &str,
        org_id: &str,
        now: u64,
        access_ttl_ms: u64,
        refresh_ttl_ms: u64,
    ) -> Pair {
        let grant = |ttl: u64| Grant {
            client_id: client_id.to_owned(),
            org_id: org_id.to_owned(),
            expires_at: now.saturating_add(ttl),
        };
        let pair = Pair {
            access_token: random_token(),
            refresh_token: random_token(),
        };
        self.access
            .insert(pair.access_token.clone(), grant(access_ttl_ms));
        self.refresh
            .insert(pair.refresh_token.clone(), grant(refresh_ttl_ms));
        self.issued.push_back(pair.access_token.clone());
        self.issued.push_back(pair.refresh_token.clone());
        self.trim();
        pair
    }

    /// Rotates: the old refresh token is consumed (whatever the outcome for a valid one) and a
    /// new pair is issued.
    pub fn rotate(
        &mut self,
        client_id: &str,
        refresh_token: &str,
        now: u64,
        access_ttl_ms: u64,
        refresh_ttl_ms: u64,
    ) -> Result<Pair, RefreshRefused> {
        let count = self.presented.entry(refresh_token.to_owned()).or_default();
        if *count == 0 {
            self.presented_order.push_back(refresh_token.to_owned());
        }
        *count += 1;
        self.trim();
        let grant = match self.refresh.get(refresh_token) {
            Some(grant) if grant.expires_at > now => grant.clone(),
            _ => return Err(RefreshRefused::Unknown),
        };
        if grant.client_id != client_id {
            return Err(RefreshRefused::WrongClient);
        }
        self.refresh.remove(refresh_token);
        *self
            .refreshes
            .entry((grant.client_id.clone(), grant.org_id.clone()))
            .or_default() += 1;
        Ok(self.issue(
            &grant.client_id,
            &grant.org_id,
            now,
            access_ttl_ms,
            refresh_ttl_ms,
        ))
    }

    /// How many refreshes of `(client_id, org_id)`'s pairs succeeded.
    pub fn refreshes(&self, client_id: &str, org_id: &str) -> usize {
        self.refreshes
            .get(&(client_id.to_owned(), org_id.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// How often each refresh token was presented for a refresh, valid or not.
    pub fn presentations(&self) -> &HashMap<String, usize> {
        &self.presented
    }

    /// Makes every access token issued so far expire at `now`.
    pub fn expire_access_tokens(&mut self, now: u64) {
        for grant in self.access.values_mut() {
            grant.expires_at = grant.expires_at.min(now);
        }
    }

    /// Forgets every access and refresh token of `(client_id, org_id)`: they are then refused
    /// like expired ones.
    pub fn revoke_org(&mut self, client_id: &str, org_id: &str) {
        let theirs = |grant: &Grant| grant.client_id == client_id && grant.org_id == org_id;
        self.access.retain(|_, grant| !theirs(grant));
        self.refresh.retain(|_, grant| !theirs(grant));
    }

    /// Whether an access token is valid at `now`.
    pub fn access_valid(&self, access_token: &str, now: u64) -> bool {
        self.access
            .get(access_token)
            .is_some_and(|grant| grant.expires_at > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_kills_the_old_refresh_token() {
        let mut tokens = Tokens::default();
        let first = tokens.issue("c", "o", 0, 10, 100);
        let second = tokens
            .rotate("c", &first.refresh_token, 1, 10, 100)
            .unwrap();
        assert_ne!(first.refresh_token, second.refresh_token);
        assert_eq!(
            tokens
                .rotate("c", &first.refresh_token, 2, 10, 100)
                .unwrap_err(),
            RefreshRefused::Unknown
        );
        assert_eq!(
            tokens
                .rotate("x", &second.refresh_token, 2, 10, 100)
                .unwrap_err(),
            RefreshRefused::WrongClient
        );
        assert!(
            tokens
                .rotate("c", &second.refresh_token, 2, 10, 100)
                .is_ok()
        );
        assert_eq!(tokens.presentations()[&first.refresh_token], 2);
        assert_eq!(tokens.presentations()[&second.refresh_token], 2);
    }

    #[test]
    fn the_tables_are_bounded() {
        let mut tokens = Tokens::bounded(2);
        let first = tokens.issue("c", "o", 0, 10, 100);
        for _ in 0..2 {
            tokens.issue("c", "o", 0, 10, 100);
        }
        assert!(!tokens.access_valid(&first.access_token, 1), "forgotten");
        assert_eq!(tokens.access.len(), 2);
        for n in 0..5 {
            let _ = tokens.rotate("c", &format!("unknown-{n}"), 0, 10, 100);
        }
        assert_eq!(tokens.presentations().len(), 2);
    }

    #[test]
    fn tokens_expire() {
        let mut tokens = Tokens::default();
        let pair = tokens.issue("c", "o", 0, 10, 100);
        assert!(tokens.access_valid(&pair.access_token, 9));
        assert!(!tokens.access_valid(&pair.access_token, 10));
        let other = tokens.issue("c", "o", 0, 10, 100);
        tokens.expire_access_tokens(5);
        assert!(!tokens.access_valid(&other.access_token, 5));
        assert_eq!(
            tokens
                .rotate("c", &pair.refresh_token, 100, 10, 100)
                .unwrap_err(),
            RefreshRefused::Unknown
        );
    }
}
