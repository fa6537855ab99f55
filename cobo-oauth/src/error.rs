//! The crate's errors. None of them ever contains an API secret, a token or a signature.

use crate::owner::TokenOwner;
use crate::signing::{KeyError, SignRequestError};
use crate::verify::VerifyError;

/// Everything that can go wrong in a call to Cobo.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Cobo's OAuth endpoint refused the request (a 4XX `{error, error_description}`), e.g.
    /// `invalid_grant` for a refresh token that was used or has expired.
    #[error("OAuth error (HTTP {status}): {error}: {description}")]
    OAuth {
        /// HTTP status.
        status: u16,
        /// The OAuth error name, e.g. `invalid_grant`.
        error: String,
        /// Cobo's description.
        description: String,
        /// How long the answer's `Retry-After` header (seconds) asked to wait, if it had one
        /// (rate limits, 429 and 503).
        retry_after: Option<std::time::Duration>,
    },
    /// Cobo's `ErrorResponse` (`{error_code, error_message, error_id}`), e.g. with a 5XX.
    #[error("Cobo API error (HTTP {status}): code {code}: {message} (error id {error_id})")]
    Api {
        /// HTTP status.
        status: u16,
        /// Cobo's error code, e.g. 1000 for an expired access token, 2026 for a rate limit.
        code: i64,
        /// Cobo's message.
        message: String,
        /// The error log ID to quote to Cobo's support.
        error_id: String,
        /// How long the answer's `Retry-After` header (seconds) asked to wait, if it had one
        /// (rate limits, 429 and 503).
        retry_after: Option<std::time::Duration>,
    },
    /// An unsigned non-2xx response: from a gateway, CDN or load balancer, not from Cobo.
    #[error("HTTP {status} from an intermediary (the response is not signed by Cobo)")]
    Http {
        /// HTTP status.
        status: u16,
        /// The start of the body (at most 512 bytes), for diagnosis.
        body: String,
        /// How long the answer's `Retry-After` header (seconds) asked to wait, if it had one
        /// (rate limits, 429 and 503).
        retry_after: Option<std::time::Duration>,
    },
    /// The request did not complete: DNS, connection, TLS, or the connection broke.
    #[error("transport error: {0}")]
    Transport(#[source] reqwest::Error),
    /// The connect or total timeout passed.
    #[error("request timed out: {0}")]
    Timeout(#[source] reqwest::Error),
    /// The response body is not what the spec says (not JSON, or the wrong shape).
    #[error("invalid response body (HTTP {status}): {reason}")]
    InvalidBody {
        /// HTTP status.
        status: u16,
        /// What is wrong.
        reason: String,
    },
    /// The response's signature is missing or does not verify; its data was discarded.
    #[error(transparent)]
    ResponseSignature(#[from] VerifyError),
    /// The request could not be signed.
    #[error(transparent)]
    Signing(#[from] SignRequestError),
    /// A refresh request was sent but no usable answer arrived (the connection broke or timed
    /// out, a gateway answered, the answer was not Cobo's): Cobo may have rotated the refresh
    /// token. That refresh token is never sent again; the next renewal asks for a new grant.
    #[error(
        "refresh outcome unknown: the request may have reached Cobo but no usable answer arrived ({0}); the refresh token is not sent again"
    )]
    RefreshOutcomeUnknown(#[source] Box<Error>),
    /// Cobo refused a new `org_implicit` grant (a 4XX), asked for because the refresh token was
    /// refused or could not be sent again: the organization must authorize the app again.
    /// Permanent.
    #[error(
        "re-authorization required: Cobo refused a new grant (HTTP {status}): {error}: {description}"
    )]
    ReauthorizationRequired {
        /// HTTP status.
        status: u16,
        /// The OAuth error name.
        error: String,
        /// Cobo's description.
        description: String,
    },
    /// The token store failed; a new token pair is kept in memory and saving is retried.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another process holds the refresh lease of a shared store and no new token pair appeared
    /// within the wait. Transient: the lease expires if its holder died.
    #[error(
        "another process is refreshing the token pair and no new pair appeared within {waited:?}"
    )]
    RefreshBusy {
        /// How long this call waited.
        waited: std::time::Duration,
    },
    /// The task renewing the token pair was stopped before it finished: the tokio runtime is
    /// shutting down. Nothing else stops it (see [`TokenManager`](crate::tokens::TokenManager)).
    #[error("the token renewal was stopped before it finished (the runtime is shutting down)")]
    RenewalInterrupted,
    /// The server answered with a redirect. Cobo never redirects, and following one would carry
    /// the signed headers, the Bearer token and the body (a refresh token) to another server:
    /// nothing was sent to the target. Names the target host, never its path or query.
    #[error("HTTP {status}: the server redirected to {target_host:?}; redirects are not followed")]
    Redirect {
        /// HTTP status (3XX).
        status: u16,
        /// The host of the `Location` header, if there is one.
        target_host: Option<String>,
    },
    /// The response body (or its `Content-Length`) is larger than the client's
    /// `max_response_bytes`: it was not read further.
    #[error("the response body is larger than the limit of {limit} bytes; it was not read")]
    ResponseTooLarge {
        /// HTTP status.
        status: u16,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The request could not be built from the given arguments.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The client is not configured correctly.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl Error {
    /// The HTTP status of the response the error came from, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::OAuth { status, .. }
            | Self::Api { status, .. }
            | Self::Http { status, .. }
            | Self::InvalidBody { status, .. }
            | Self::Redirect { status, .. }
            | Self::ResponseTooLarge { status, .. }
            | Self::ReauthorizationRequired { status, .. } => Some(*status),
            Self::ResponseSignature(
                VerifyError::Missing { status }
                | VerifyError::Invalid { status }
                | VerifyError::Malformed { status, .. },
            ) => Some(*status),
            Self::Transport(e) | Self::Timeout(e) => e.status().map(|s| s.as_u16()),
            Self::RefreshOutcomeUnknown(cause) => cause.status(),
            Self::Signing(_)
            | Self::InvalidRequest(_)
            | Self::Config(_)
            | Self::Store(_)
            | Self::RenewalInterrupted
            | Self::RefreshBusy { .. } => None,
        }
    }

    /// How long the answer the error came from asked to wait before trying again
    /// (`Retry-After`, in seconds), if it said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::OAuth { retry_after, .. }
            | Self::Api { retry_after, .. }
            | Self::Http { retry_after, .. } => *retry_after,
            Self::RefreshOutcomeUnknown(cause) => cause.retry_after(),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: 408, 429 and 5XX answers, transport failures,
    /// timeouts, an unreachable token store and a refresh lease held elsewhere. An unknown refresh outcome is not transient: resending could burn the newest
    /// refresh token.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Api { status, .. } | Self::Http { status, .. } | Self::OAuth { status, .. } => {
                matches!(status, 408 | 429) || *status >= 500
            }
            Self::Transport(_)
            | Self::Timeout(_)
            | Self::RefreshBusy { .. }
            | Self::Store(StoreError::Io { .. } | StoreError::Conflict { .. }) => true,
            _ => false,
        }
    }

    /// Whether Cobo (or a gateway in front of it) said to slow down: error
    /// [`RATE_LIMITED_CODE`](crate::tokens::orgs::RATE_LIMITED_CODE) (2026) with any status, or
    /// HTTP 429 in any shape (Cobo's or OAuth's error body, an unsigned or unreadable body, a
    /// refused grant, a refresh of unknown outcome). `OrgTokens` pauses every renewal on it.
    pub fn is_rate_limited(&self) -> bool {
        match self {
            Self::Api { code, .. } if *code == crate::tokens::orgs::RATE_LIMITED_CODE => true,
            Self::RefreshOutcomeUnknown(cause) if cause.is_rate_limited() => true,
            _ => self.status() == Some(429),
        }
    }

    /// Whether Cobo's refusal of a new grant says the organization no longer has the app
    /// (`unauthorized_client`: it has not installed it; `access_denied`: it revoked it;
    /// `invalid_grant`: no grant for it). Any other refused grant (`invalid_request`, a 401 of
    /// the key or nonce, a 408 or 429) says nothing about the installation.
    pub fn is_uninstall(&self) -> bool {
        matches!(
            self,
            Self::ReauthorizationRequired { status, error, .. }
                if (400..500).contains(status)
                    && !matches!(status, 401 | 408 | 429)
                    && matches!(error.as_str(), "unauthorized_client" | "access_denied" | "invalid_grant")
        )
    }

    /// Whether only a person can fix it (authorize the app again, fix the configuration, repair
    /// or remove a corrupt or undecryptable token store, give each organization its own store,
    /// fix a token store's credentials, permissions or TLS certificates).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::ReauthorizationRequired { .. }
                | Self::Config(_)
                | Self::Store(
                    StoreError::Corrupt { .. }
                        | StoreError::Config { .. }
                        | StoreError::Refused { .. }
                        | StoreError::Tls { .. }
                        | StoreError::WrongOwner { .. }
                )
        )
    }

    pub(crate) fn from_reqwest(error: reqwest::Error) -> Self {
        let error = error.without_url();
        if error.is_timeout() {
            Self::Timeout(error)
        } else {
            Self::Transport(error)
        }
    }
}

/// Why a store failed. Never contains a token.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("token store I/O error on {path}: {reason}")]
    Io {
        /// The file or resource.
        path: String,
        /// What failed.
        reason: String,
    },
    /// The stored data is not a token pair. It is not treated as empty: fix or remove it.
    #[error("token store {path} is corrupt: {reason}")]
    Corrupt {
        /// The file or resource.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The store is configured wrongly (a bad URL, a malformed encryption key, no choice between
    /// encryption and plaintext). Never contains a secret.
    #[error("token store configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The store refused the request and will refuse it again: wrong credentials (`WRONGPASS`,
    /// `NOAUTH`), a missing ACL permission (`NOPERM`), a script or command error. Permanent:
    /// fix the credentials, the permissions or the server. Never contains a secret.
    #[error("token store {path} refused the request: {reason}")]
    Refused {
        /// The resource (`redis://host:port/db`, without credentials).
        path: String,
        /// What was refused, and why.
        reason: String,
    },
    /// The TLS handshake failed: the server's certificate is not signed by a trusted CA, or the
    /// server refused the client certificate (or its absence). Permanent: fix the CA or the
    /// client certificate. Never contains a secret.
    #[error("token store {path}: {reason}")]
    Tls {
        /// The resource (`rediss://host:port/db`, without credentials).
        path: String,
        /// What failed, and what to do about it.
        reason: String,
    },
    /// The store holds, or is bound to, another app's or organization's pair: it was not used.
    /// Permanent: give each `(client_id, org_id)` a store of its own.
    #[error("token store {path} belongs to {found}, not to {expected}")]
    WrongOwner {
        /// The file or resource.
        path: String,
        /// Who asked.
        expected: TokenOwner,
        /// Whose pair it holds, or whom it was built for.
        found: TokenOwner,
    },
    /// A pair with this version or a newer one is already stored; the save was refused.
    #[error("token store refused version {attempted}: version {stored} is already stored")]
    Conflict {
        /// The version already stored.
        stored: u64,
        /// The version that was refused.
        attempted: u64,
    },
}

impl StoreError {
    /// The compare-and-set rule every store follows, for stores of your own: refuses to replace
    /// a stored pair of version `stored` (if any) with one of version `attempted` that is not
    /// newer, with [`StoreError::Conflict`].
    ///
    /// ```
    /// use cobo_oauth::tokens::StoreError;
    /// assert!(StoreError::check_newer(None, 1).is_ok());
    /// assert!(StoreError::check_newer(Some(1), 2).is_ok());
    /// assert!(matches!(
    ///     StoreError::check_newer(Some(2), 2),
    ///     Err(StoreError::Conflict { stored: 2, attempted: 2 })
    /// ));
    /// ```
    pub fn check_newer(stored: Option<u64>, attempted: u64) -> Result<(), Self> {
        match stored {
            Some(stored) if stored >= attempted => Err(Self::Conflict { stored, attempted }),
            _ => Ok(()),
        }
    }
}

/// A configuration problem, found before any request is sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No API secret and no signer were given.
    #[error("no API secret: set COBO_API_SECRET or call .api_secret() / .signer()")]
    MissingApiSecret,
    /// The API secret is malformed (the message never contains it).
    #[error("invalid API secret: {0}")]
    InvalidApiSecret(#[source] KeyError),
    /// No environment was chosen.
    #[error("no environment: set COBO_ENV (dev, sandbox or prod) or COBO_BASE_URL")]
    MissingEnv,
    /// The environment name is not `dev`, `sandbox` or `prod`.
    #[error("unknown environment {0:?}: expected dev, sandbox or prod")]
    UnknownEnv(String),
    /// The base URL is not usable.
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The URL given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A custom base URL needs a response key, or verification turned off explicitly.
    #[error(
        "a custom base URL needs COBO_RESPONSE_PUBKEY (the server's ed25519 response key), or response verification turned off explicitly"
    )]
    MissingResponseKey,
    /// The response key is malformed.
    #[error("invalid response public key: {0}")]
    InvalidResponseKey(#[source] KeyError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_transient_and_permanent_errors() {
        let api = |status, code| Error::Api {
            status,
            code,
            message: String::new(),
            error_id: String::new(),
            retry_after: None,
        };
        let oauth = |status| Error::OAuth {
            status,
            error: "invalid_grant".into(),
            description: String::new(),
            retry_after: None,
        };
        for transient in [api(500, 2000), api(503, 2000), api(429, 2026), oauth(408)] {
            assert!(
                transient.is_transient() && !transient.is_permanent(),
                "{transient:?}"
            );
        }
        for neither in [
            oauth(400),
            Error::InvalidBody {
                status: 200,
                reason: String::new(),
            },
        ] {
            assert!(
                !neither.is_transient() && !neither.is_permanent(),
                "{neither:?}"
            );
        }
        let reauthorize = Error::ReauthorizationRequired {
            status: 400,
            error: "invalid_grant".into(),
            description: String::new(),
        };
        assert!(reauthorize.is_permanent() && !reauthorize.is_transient());
        assert!(Error::Config(ConfigError::MissingEnv).is_permanent());
    }

    #[test]
    fn a_store_outage_is_transient_and_a_corrupt_store_is_permanent() {
        let outage = Error::Store(StoreError::Io {
            path: "redis://127.0.0.1:6379/0".into(),
            reason: "connection refused".into(),
        });
        assert!(outage.is_transient() && !outage.is_permanent());
        let corrupt = Error::Store(StoreError::Corrupt {
            path: "cobo-oauth:{app:org}:pair".into(),
            reason: "does not decrypt with this key".into(),
        });
        assert!(corrupt.is_permanent() && !corrupt.is_transient());
        let refused = Error::Store(StoreError::Refused {
            path: "redis://127.0.0.1:6379/0".into(),
            reason: "authentication failed".into(),
        });
        assert!(refused.is_permanent() && !refused.is_transient());
        let untrusted = Error::Store(StoreError::Tls {
            path: "rediss://127.0.0.1:6379/0".into(),
            reason: "TLS certificate verification failed".into(),
        });
        assert!(untrusted.is_permanent() && !untrusted.is_transient());
    }
}
