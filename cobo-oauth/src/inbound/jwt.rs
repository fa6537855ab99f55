//! [`UserInfoVerifier`]: the User Info Token that Cobo Portal hands the app's page (a JWT),
//! checked against Cobo's JWKS.
//!
//! The algorithm comes from an allowed list of asymmetric algorithms only: `alg: none` and
//! every HMAC algorithm are refused before any key is looked at, so a token "signed" with the
//! public key as an HMAC secret never verifies. The key is the JWKS key of the token's `kid`
//! (and, when the JWKS pins an `alg` to it, only with that `alg`); `iss`, `aud` and `exp` are
//! required and checked, and `nbf` when present, all with a small leeway.
//!
//! **Crypto provider.** `jsonwebtoken` 12 picks its crypto by cargo features, and panics on the
//! first decode when it cannot pick one: when another crate of the app's dependency tree
//! enables its `rust_crypto` feature next to this crate's `aws_lc_rs`, neither is chosen.
//! Building a [`JwksCache`] or a [`UserInfoVerifier`] therefore installs `jsonwebtoken`'s
//! aws-lc-rs provider as the process default when none is installed yet (an app that installs
//! its own, with `jsonwebtoken::crypto::CryptoProvider::install_default`, before building them
//! keeps it).

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::jwks::{JwksCache, JwksError};

/// The algorithms accepted by default: every asymmetric one `jsonwebtoken` implements.
pub const DEFAULT_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The clock skew tolerated on `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// Why a User Info Token was refused. The token itself is never part of the error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UserInfoError {
    /// Not three base64url parts with a JSON header.
    #[error("the token is malformed: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// `alg: none`: an unsigned token.
    #[error("the token is unsigned (alg: none)")]
    Unsigned,
    /// An algorithm outside the allowed list (every HMAC algorithm among them).
    #[error("the token's algorithm {alg} is not allowed")]
    AlgorithmNotAllowed {
        /// The header's `alg`.
        alg: String,
    },
    /// The header has no `kid`.
    #[error("the token names no key (no kid)")]
    MissingKid,
    /// Cobo's JWKS has no key of this `kid`, even after fetching it again.
    #[error("Cobo's JWKS has no key {kid:?}")]
    UnknownKid {
        /// The header's `kid`.
        kid: String,
    },
    /// The key of `kid` is not for this algorithm (the JWKS pins another `alg`, or the key is
    /// of another family).
    #[error("the key {kid:?} is not for {alg}")]
    KeyAlgorithmMismatch {
        /// The header's `kid`.
        kid: String,
        /// The header's `alg`.
        alg: String,
    },
    /// The signature does not verify with the key.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `exp` is past (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    /// `iss` is not Cobo's.
    #[error("the token was issued by someone else (iss)")]
    WrongIssuer,
    /// `aud` does not name this app.
    #[error("the token is for another audience (aud)")]
    WrongAudience,
    /// A required claim (`exp`, `iss`, `aud`) is missing or not of its type.
    #[error("the token's claim {claim} is missing or malformed")]
    BadClaim {
        /// The claim.
        claim: String,
    },
    /// The JWKS could not be fetched.
    #[error(transparent)]
    Jwks(#[from] JwksError),
}

/// `aud`: one audience or several.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Audience {
    /// Whether it names `audience`.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

/// The claims of a verified User Info Token.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct UserInfoClaims {
    /// The issuer (checked).
    pub iss: String,
    /// The audience (checked).
    pub aud: Audience,
    /// Expiry, seconds since the epoch (checked).
    pub exp: u64,
    /// Not before, seconds since the epoch (checked when present).
    #[serde(default)]
    pub nbf: Option<u64>,
    /// Issued at, seconds since the epoch.
    #[serde(default)]
    pub iat: Option<u64>,
    /// The subject: the Cobo Portal user.
    #[serde(default)]
    pub sub: Option<String>,
    /// The token ID.
    #[serde(default)]
    pub jti: Option<String>,
    /// Every other claim (user, organization, ...), as Cobo sends them.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl UserInfoClaims {
    /// Another claim, as text, e.g. `claims.extra_str("org_id")`.
    pub fn extra_str(&self, name: &str) -> Option<&str> {
        self.extra.get(name).and_then(Value::as_str)
    }
}

/// Verifies User Info Tokens for one app (the audience) against Cobo's JWKS.
#[derive(Clone)]
pub struct UserInfoVerifier {
    jwks: JwksCache,
    issuers: Vec<String>,
    audience: String,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
}

impl fmt::Debug for UserInfoVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserInfoVerifier")
            .field("jwks", &self.jwks)
            .field("issuers", &self.issuers)
            .field("audience", &self.audience)
            .field("algorithms", &self.algorithms)
            .field("leeway", &self.leeway)
            .finish()
    }
}

impl UserInfoVerifier {
    /// Tokens issued by `issuer` for `audience` (your app's client ID, as Cobo puts it in `aud`),
    /// verified with the keys of `jwks`. Nothing is guessed: Cobo documents neither value's
    /// format, so take both from a real token of your environment.
    pub fn new(jwks: JwksCache, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        ensure_crypto_provider();
        Self {
            jwks,
            issuers: vec![issuer.into()],
            audience: audience.into(),
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            leeway: DEFAULT_LEEWAY,
        }
    }

    /// Accepts a further issuer.
    pub fn also_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Accepts only these algorithms; HMAC algorithms in the list are dropped (a JWKS key is
    /// public: an HMAC "secret" made of it is known to everyone).
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms
            .iter()
            .copied()
            .filter(|alg| !is_hmac(*alg))
            .collect();
        self
    }

    /// The clock skew tolerated on `exp` and `nbf` (default [`DEFAULT_LEEWAY`]).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The key set it uses.
    pub fn jwks(&self) -> &JwksCache {
        &self.jwks
    }

    /// Verifies `token` and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<UserInfoClaims, UserInfoError> {
        let outcome = self.check(token).await;
        crate::metrics::user_info_checked(&outcome);
        outcome
    }

    /// [`Self::verify`], unrecorded.
    async fn check(&self, token: &str) -> Result<UserInfoClaims, UserInfoError> {
        // Trimmed once: the header read and the token decoded are the same text.
        let token = token.trim();
        let (alg_name, kid) = read_header(token)?;
        if alg_name.eq_ignore_ascii_case("none") {
            return Err(UserInfoError::Unsigned);
        }
        let not_allowed = || UserInfoError::AlgorithmNotAllowed {
            alg: shown(&alg_name),
        };
        let alg: Algorithm = alg_name.parse().map_err(|_| not_allowed())?;
        if is_hmac(alg) || !self.algorithms.contains(&alg) {
            return Err(not_allowed());
        }
        let kid = kid.ok_or(UserInfoError::MissingKid)?;
        let key = self
            .jwks
            .key(&kid)
            .await?
            .ok_or_else(|| UserInfoError::UnknownKid { kid: shown(&kid) })?;
        let mismatch = || UserInfoError::KeyAlgorithmMismatch {
            kid: shown(&kid),
            alg: shown(&alg_name),
        };
        if key.alg.is_some_and(|pinned| pinned != alg) || key.key.family() != alg.family() {
            return Err(mismatch());
        }
        let mut validation = Validation::new(alg);
        validation.leeway = self.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&self.issuers);
        validation.set_audience(&[&self.audience]);
        validation.required_spec_claims = ["exp", "iss", "aud"]
            .into_iter()
            .map(str::to_owned)
            .collect::<HashSet<_>>();
        jsonwebtoken::decode::<UserInfoClaims>(token, &key.key, &validation)
            .map(|data| data.claims)
            .map_err(|error| match error.into_kind() {
                ErrorKind::InvalidSignature => UserInfoError::BadSignature,
                ErrorKind::ExpiredSignature => UserInfoError::Expired,
                ErrorKind::ImmatureSignature => UserInfoError::NotYetValid,
                ErrorKind::InvalidIssuer => UserInfoError::WrongIssuer,
                ErrorKind::InvalidAudience => UserInfoError::WrongAudience,
                ErrorKind::InvalidAlgorithm => mismatch(),
                ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => {
                    UserInfoError::BadClaim { claim }
                }
                ErrorKind::Json(e) => UserInfoError::Malformed {
                    reason: format!("the claims: {e}"),
                },
                other => UserInfoError::Malformed {
                    reason: format!("{other:?}"),
                },
            })
    }
}

/// Installs `jsonwebtoken`'s aws-lc-rs provider as the process default when none can be found
/// (both or neither of its crypto features enabled in the app's tree), so that no decode,
/// encode or JWK conversion can panic for the want of one. Losing the race to another thread
/// that installs one is fine: a provider is installed either way.
pub fn ensure_crypto_provider() {
    use jsonwebtoken::crypto::CryptoProvider;
    if CryptoProvider::try_get_default().is_none() {
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    }
}

/// The most characters of a header value (`kid`, `alg`) that an error repeats.
const MAX_SHOWN_CHARS: usize = 64;

/// `value` as an error shows it: at most [`MAX_SHOWN_CHARS`] characters (a forged header can
/// be as long as the request allows), the cut marked with `…`.
fn shown(value: &str) -> String {
    match value.char_indices().nth(MAX_SHOWN_CHARS) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value.to_owned(),
    }
}

fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// The header's `alg` and `kid`, read without trusting anything (so that `none` is recognized
/// as such, which `jsonwebtoken`'s header type cannot represent).
fn read_header(token: &str) -> Result<(String, Option<String>), UserInfoError> {
    let malformed = |reason: &str| UserInfoError::Malformed {
        reason: reason.to_owned(),
    };
    let mut parts = token.split('.');
    let header = parts.next().unwrap_or_default();
    if parts.count() != 2 {
        return Err(malformed("a JWT has three parts"));
    }
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .map_err(|_| malformed("the header is not base64url"))?;
    #[derive(Deserialize)]
    struct Header {
        alg: String,
        #[serde(default)]
        kid: Option<String>,
    }
    let header: Header =
        serde_json::from_slice(&header).map_err(|_| malformed("the header is not a JWT header"))?;
    Ok((header.alg, header.kid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_in_errors_are_cut_to_64_characters() {
        assert_eq!(shown("kid-1"), "kid-1");
        let exact = "é".repeat(MAX_SHOWN_CHARS);
        assert_eq!(shown(&exact), exact);
        let long = "é".repeat(10_000);
        let cut = shown(&long);
        assert_eq!(cut.chars().count(), MAX_SHOWN_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[tokio::test]
    async fn a_long_made_up_kid_or_alg_is_not_echoed_whole() {
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let verifier = UserInfoVerifier::new(JwksCache::new("http://127.0.0.1:9/jwks"), "i", "a");
        let long = "x".repeat(100_000);
        let token = format!(
            "{}.{}.c2ln",
            b64(serde_json::json!({"alg": long})),
            b64(serde_json::json!({}))
        );
        let error = verifier.verify(&token).await.unwrap_err();
        assert!(error.to_string().len() < 200, "{error}");
    }
}
