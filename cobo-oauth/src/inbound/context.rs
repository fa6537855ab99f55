//! "Meant for this app?": what a valid signature does not prove. Cobo signs its API responses
//! with the same key and the same `body|timestamp` scheme as webhook events and callbacks, and
//! any organization can register any URL as its webhook endpoint, so a signed body proves only
//! that Cobo produced it. [`Subject`] is what a message is about (its organization, its
//! wallets); [`SubjectCheck`] is the app's answer to "is that one of my installed
//! organizations?"; [`Endpoints`] the app's own webhook URLs, which a [`super::WebhookEvent`]'s
//! `url` must name.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value};
use url::Url;

/// Why a correctly signed message was refused as not meant for this app. The axum extractors
/// answer it 403 (or 503 for [`Self::CheckFailed`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// The event's `url` is none of the app's endpoints ([`super::InboundVerifier::endpoints`]):
    /// an event sent to another endpoint (or a signed API response), replayed here.
    #[error("the event was sent to another endpoint than this app's")]
    WrongEndpoint,
    /// The app's [`SubjectCheck`] does not know the organization or wallet the message is about.
    #[error("the message is about an organization or a wallet this app does not serve")]
    UnknownSubject,
    /// The app's [`SubjectCheck`] could not answer (its store is unreachable): answer 5XX so
    /// Cobo retries.
    #[error("the app could not check whom the message is about: {reason}")]
    CheckFailed {
        /// What failed (never a value of the message).
        reason: String,
    },
}

/// What a message is about, where its data says: the organization (`org_id`) and the wallets
/// (`wallet_id`). Both are empty for data about no organization (chains, tokens) and for shapes
/// that name neither (a `TSSRequest` names key share holder groups).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Subject {
    /// The organization, when the data names one (`org_id`, or `wallet.org_id`).
    pub org_id: Option<String>,
    /// The wallets the data names (`wallet_id`, `wallet.wallet_id`, `addresses[].wallet_id`),
    /// each once.
    pub wallet_ids: Vec<String>,
}

impl Subject {
    /// A subject (tests, or a shape the app reads itself).
    pub fn new(org_id: Option<String>, wallet_ids: Vec<String>) -> Self {
        Self { org_id, wallet_ids }
    }

    /// Whether the data names neither an organization nor a wallet.
    pub fn is_empty(&self) -> bool {
        self.org_id.is_none() && self.wallet_ids.is_empty()
    }

    /// Reads `org_id` and `wallet_id` at the top of `fields`, in `wallet`, and in each of
    /// `addresses`.
    pub(crate) fn from_fields(fields: &Map<String, Value>) -> Self {
        let text = |object: &Map<String, Value>, name: &str| {
            object.get(name).and_then(Value::as_str).map(str::to_owned)
        };
        let wallet = fields.get("wallet").and_then(Value::as_object);
        let org_id = text(fields, "org_id").or_else(|| wallet.and_then(|w| text(w, "org_id")));
        let mut wallet_ids: Vec<String> = Vec::new();
        let addresses = fields.get("addresses").and_then(Value::as_array);
        let nested = addresses
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .chain(wallet);
        for id in std::iter::once(text(fields, "wallet_id"))
            .chain(nested.map(|object| text(object, "wallet_id")))
            .flatten()
        {
            if !wallet_ids.contains(&id) {
                wallet_ids.push(id);
            }
        }
        Self { org_id, wallet_ids }
    }
}

/// Why a [`SubjectCheck`] could not tell (its store is unreachable, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct CheckError {
    /// What failed (never a secret nor a value of the message).
    pub reason: String,
}

/// The future of a [`SubjectCheck`]: whether the app serves the subject, or why it could not
/// tell.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<bool, CheckError>> + Send + 'a>>;

/// The app's answer to "is this message about one of my installed organizations?", asked by
/// the axum extractors ([`super::InboundVerifier::subjects`]) after the signature holds and
/// before the handler runs. Typically: the organization is one the app holds tokens for, or the
/// wallet is one of theirs. A subject that names nothing ([`Subject::is_empty`]) is asked too:
/// answer as your app needs (data about chains or tokens concerns no organization).
///
/// A plain `Fn(&Subject) -> bool` is one; implement the trait for a check that must wait (a
/// store lookup).
pub trait SubjectCheck: Send + Sync {
    /// Whether the app serves `subject` (`Err`: it could not tell).
    fn serves<'a>(&'a self, subject: &'a Subject) -> CheckFuture<'a>;
}

impl<F> SubjectCheck for F
where
    F: Fn(&Subject) -> bool + Send + Sync,
{
    fn serves<'a>(&'a self, subject: &'a Subject) -> CheckFuture<'a> {
        let serves = self(subject);
        Box::pin(async move { Ok(serves) })
    }
}

/// The app's public webhook endpoint URLs, compared parsed: scheme and host case-insensitively,
/// a default port the same as none, the path and the query exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    urls: Vec<Url>,
}

impl Endpoints {
    /// The endpoints `urls` (each an absolute URL).
    pub fn parse<I, S>(urls: I) -> Result<Self, url::ParseError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let urls = urls
            .into_iter()
            .map(|url| Url::parse(url.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self { urls })
    }

    /// Whether none is configured (then no `url` is checked).
    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// Whether `url` names one of the endpoints (a `url` that does not parse names none).
    pub fn contains(&self, url: &str) -> bool {
        let Ok(url) = Url::parse(url) else {
            return false;
        };
        self.urls
            .iter()
            .any(|endpoint| same_endpoint(endpoint, &url))
    }
}

/// Scheme and host are lower case once parsed (for the special schemes), and
/// `port_or_known_default` makes `:443` the same as none on `https`.
fn same_endpoint(a: &Url, b: &Url) -> bool {
    a.scheme().eq_ignore_ascii_case(b.scheme())
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
        && a.query() == b.query()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_compare_scheme_and_host_without_case_and_default_ports_as_none() {
        let endpoints = Endpoints::parse(["https://App.example/cobo/webhook"]).unwrap();
        assert!(endpoints.contains("https://app.example/cobo/webhook"));
        assert!(endpoints.contains("HTTPS://APP.EXAMPLE:443/cobo/webhook"));
        assert!(
            !endpoints.contains("https://app.example/cobo/Webhook"),
            "path is exact"
        );
        assert!(!endpoints.contains("https://app.example/cobo/webhook/"));
        assert!(!endpoints.contains("http://app.example/cobo/webhook"));
        assert!(!endpoints.contains("https://app.example:8443/cobo/webhook"));
        assert!(!endpoints.contains("https://other.example/cobo/webhook"));
        assert!(!endpoints.contains("https://app.example/cobo/webhook?x=1"));
        assert!(!endpoints.contains("not a url"));
        assert!(Endpoints::parse(["/relative"]).is_err());
    }

    #[test]
    fn the_subject_is_read_where_the_data_carries_it() {
        let fields = |json: Value| json.as_object().unwrap().clone();
        let subject = Subject::from_fields(&fields(serde_json::json!({"wallet_id": "w1"})));
        assert_eq!(subject, Subject::new(None, vec!["w1".into()]));
        let subject = Subject::from_fields(&fields(serde_json::json!({"org_id": "o1"})));
        assert_eq!(subject, Subject::new(Some("o1".into()), vec![]));
        let subject = Subject::from_fields(&fields(serde_json::json!({
            "wallet": {"wallet_id": "w2", "org_id": "o2"}
        })));
        assert_eq!(subject, Subject::new(Some("o2".into()), vec!["w2".into()]));
        let subject = Subject::from_fields(&fields(serde_json::json!({
            "addresses": [{"wallet_id": "w3"}, {"wallet_id": "w4"}, {"wallet_id": "w3"}]
        })));
        assert_eq!(subject.wallet_ids, ["w3", "w4"]);
        assert!(Subject::from_fields(&fields(serde_json::json!({"chains": []}))).is_empty());
    }
}
