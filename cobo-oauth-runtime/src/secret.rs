//! [`SecretText`]: the type of the generated client's secret strings.
//!
//! The normalization step marks `access_token` and `refresh_token` properties with
//! `x-cobo-secret`, and the generator settings give them this type instead of `String`: the
//! copies the generated request and response types hold are wiped when dropped, and never shown
//! by `Debug`. (The serialized HTTP body itself lives in reqwest's and hyper's buffers, which no
//! caller can wipe.)

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

/// A secret string: zeroized on drop, `Debug` shows `<redacted>`, serialized as a plain JSON
/// string.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretText(Zeroizing<String>);

impl SecretText {
    /// The secret, for the one place that must use it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretText {
    fn from(text: String) -> Self {
        Self(Zeroizing::new(text))
    }
}

impl From<&str> for SecretText {
    fn from(text: &str) -> Self {
        Self(Zeroizing::new(text.to_owned()))
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for SecretText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_a_string_and_never_shows_itself() {
        let secret = SecretText::from("rK49jI0z");
        assert_eq!(
            serde_json::to_string(&secret).unwrap_or_default(),
            "\"rK49jI0z\""
        );
        assert_eq!(format!("{secret:?}"), "<redacted>");
        let back: SecretText = serde_json::from_str("\"rK49jI0z\"").unwrap_or_default();
        assert_eq!(back.expose_secret(), "rK49jI0z");
    }
}
