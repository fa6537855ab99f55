//! [`TokenOwner`]: whose token pair it is. A leaf: stores, managers and errors all name it.

use std::fmt;

/// Whose token pair it is: the app (`client_id`) and the organization (`org_id`). Not secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenOwner {
    /// The app's client ID.
    pub client_id: String,
    /// The organization's ID.
    pub org_id: String,
}

impl TokenOwner {
    /// `(client_id, org_id)`.
    pub fn new(client_id: impl Into<String>, org_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            org_id: org_id.into(),
        }
    }
}

impl fmt::Display for TokenOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "client {:?}, organization {:?}",
            self.client_id, self.org_id
        )
    }
}
