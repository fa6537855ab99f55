//! Cobo's environments: base URLs and the keys Cobo signs responses with.

use std::fmt;
use std::str::FromStr;

use url::Url;

use crate::error::ConfigError;
use crate::verify::ResponseVerifier;

/// Cobo's response-signing public key for the development environment.
pub const DEV_RESPONSE_KEY: &str =
    "a04ea1d5fa8da71f1dcfccf972b9c4eba0a2d8aba1f6da26f49977b08a0d2718";
/// Cobo's response-signing public key for the sandbox environment.
pub const SANDBOX_RESPONSE_KEY: &str =
    "893d8a6112ae22429a7453599256391d7928e16870ecab888ee3ce65febada08";
/// Cobo's response-signing public key for the production environment.
pub const PROD_RESPONSE_KEY: &str =
    "8d4a482641adb2a34b726f05827dba9a9653e5857469b8749052bf4458a86729";

/// How responses from a custom environment are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseKey {
    /// Verify response signatures with this key.
    Verify(ResponseVerifier),
    /// Do not verify response signatures. Only for servers that do not sign, such as a test
    /// double; responses are then trusted as they come.
    Unverified,
}

/// Where requests go, and which key signs the responses.
///
/// A custom base URL may carry credentials for a proxy (`https://user:password@host/v2`); they
/// are sent, but `Debug`, `Display` and errors show them as `***`.
// A configuration value, built once per client: the size of `Custom` does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq)]
pub enum Env {
    /// `https://api.dev.cobo.com/v2`.
    Dev,
    /// `https://api.sandbox.cobo.com/v2`.
    Sandbox,
    /// `https://api.cobo.com/v2`.
    Prod,
    /// Any other server, such as the embedded mock or a proxy.
    Custom {
        /// The base URL, including the `/v2` path prefix when the server has one.
        base_url: Url,
        /// How its responses are verified.
        response_key: ResponseKey,
    },
}

impl Env {
    /// A custom environment whose responses are verified with `response_key_hex`.
    pub fn custom(base_url: &str, response_key_hex: &str) -> Result<Self, ConfigError> {
        let verifier = ResponseVerifier::from_hex(response_key_hex)
            .map_err(ConfigError::InvalidResponseKey)?;
        Self::custom_with(base_url, ResponseKey::Verify(verifier))
    }

    /// A custom environment whose responses are not verified.
    pub fn custom_unverified(base_url: &str) -> Result<Self, ConfigError> {
        Self::custom_with(base_url, ResponseKey::Unverified)
    }

    /// A custom environment with a base URL (checked) and a response key.
    pub fn custom_with(base_url: &str, response_key: ResponseKey) -> Result<Self, ConfigError> {
        Ok(Self::Custom {
            base_url: parse_base_url(base_url)?,
            response_key,
        })
    }

    /// This environment's response key: Cobo's for dev, sandbox and prod.
    pub fn response_key(&self) -> Result<ResponseKey, ConfigError> {
        Ok(match self.response_verifier()? {
            Some(verifier) => ResponseKey::Verify(verifier),
            None => ResponseKey::Unverified,
        })
    }

    /// The base URL of the API.
    pub fn base_url(&self) -> &str {
        match self {
            Self::Dev => "https://api.dev.cobo.com/v2",
            Self::Sandbox => "https://api.sandbox.cobo.com/v2",
            Self::Prod => "https://api.cobo.com/v2",
            Self::Custom { base_url, .. } => base_url.as_str().trim_end_matches('/'),
        }
    }

    /// The verifier for this environment's responses; `None` when verification is off.
    pub fn response_verifier(&self) -> Result<Option<ResponseVerifier>, ConfigError> {
        let key = match self {
            Self::Dev => DEV_RESPONSE_KEY,
            Self::Sandbox => SANDBOX_RESPONSE_KEY,
            Self::Prod => PROD_RESPONSE_KEY,
            Self::Custom {
                response_key: ResponseKey::Verify(verifier),
                ..
            } => return Ok(Some(verifier.clone())),
            Self::Custom {
                response_key: ResponseKey::Unverified,
                ..
            } => return Ok(None),
        };
        ResponseVerifier::from_hex(key)
            .map(Some)
            .map_err(ConfigError::InvalidResponseKey)
    }

    /// The name: `dev`, `sandbox`, `prod` or `custom`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::Sandbox => "sandbox",
            Self::Prod => "prod",
            Self::Custom { .. } => "custom",
        }
    }
}

impl FromStr for Env {
    type Err = ConfigError;

    /// `dev`, `sandbox` or `prod` (case-insensitive). Anything else is an error, never a fallback.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.trim().to_ascii_lowercase().as_str() {
            "dev" | "development" => Ok(Self::Dev),
            "sandbox" => Ok(Self::Sandbox),
            "prod" | "production" => Ok(Self::Prod),
            _ => Err(ConfigError::UnknownEnv(name.to_owned())),
        }
    }
}

impl fmt::Display for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), redact_userinfo(self.base_url()))
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Custom { response_key, .. } => f
                .debug_struct("Custom")
                .field("base_url", &redact_userinfo(self.base_url()))
                .field("response_key", response_key)
                .finish(),
            _ => f.write_str(match self {
                Self::Dev => "Dev",
                Self::Sandbox => "Sandbox",
                _ => "Prod",
            }),
        }
    }
}

/// `url` with everything between `://` and the last `@` replaced by `***`, for display: that
/// covers credentials even when a raw password holds `/`, `?` or `#` (text that does not parse
/// as a URL is shown in errors too). A URL with `@` in its path or query is over-redacted, which
/// is the safe side.
pub(crate) fn redact_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    match url[scheme_end..].rfind('@') {
        Some(at) => format!("{}***{}", &url[..scheme_end], &url[scheme_end + at..]),
        None => url.to_owned(),
    }
}

/// Parses a base URL: absolute, `http` or `https`, no query or fragment.
pub(crate) fn parse_base_url(base_url: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidBaseUrl {
        url: redact_userinfo(base_url),
        reason: reason.to_owned(),
    };
    let url = Url::parse(base_url.trim()).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host().is_none() {
        return Err(invalid("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a base URL has no query or fragment"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_base_url_are_sent_but_never_shown() {
        let env = Env::custom_unverified("https://user:s3cret@proxy.example/v2").unwrap();
        assert_eq!(env.base_url(), "https://user:s3cret@proxy.example/v2");
        for shown in [env.to_string(), format!("{env:?}")] {
            assert!(
                !shown.contains("s3cret") && !shown.contains("user"),
                "{shown}"
            );
            assert!(shown.contains("***@proxy.example"), "{shown}");
        }
        let error = Env::custom_unverified("ftp://user:s3cret@proxy.example/v2").unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(redact_userinfo("http://a@b:c@host/x"), "http://***@host/x");
        let raw = Env::custom_unverified("https://user:pa/ss@host/v2").map(|_| ());
        let shown = format!("{raw:?}");
        assert!(
            !shown.contains("pa/ss") && !shown.contains("user"),
            "{shown}"
        );
        assert_eq!(redact_userinfo("not a url"), "not a url");
    }
}
