//! [`OpenEnum`]: the type of every enum-typed field and parameter of a generated client.
//!
//! A spec's enum (a transaction's `status`, a chain type, a webhook event type) lists the
//! values Cobo sends today. When Cobo adds one, a closed enum would fail deserialization of the
//! whole response it comes in, breaking a working application until it is regenerated. The
//! normalization step of `cobo-oauth-codegen` (rule `open-enums`) gives every use of an enum
//! this type instead: `OpenEnum<TransactionStatus>` holds either a value the generated
//! `TransactionStatus` lists, or the one it does not, exactly as it came; and it serializes back
//! unchanged.
//!
//! ```
//! use cobo_oauth_runtime::OpenEnum;
//! # #[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
//! # enum Status { Completed, Failed }
//! let known: OpenEnum<Status> = serde_json::from_str("\"Completed\"").unwrap();
//! assert_eq!(known, Status::Completed);
//! let unknown: OpenEnum<Status> = serde_json::from_str("\"Frozen\"").unwrap();
//! assert_eq!(unknown.unknown().map(String::as_str), Some("Frozen"));
//! assert_eq!(serde_json::to_string(&unknown).unwrap(), "\"Frozen\"");
//! ```

use std::fmt;
use std::str::FromStr;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value of the spec's enum `T`, or a value `T` does not list, kept as it came on the wire
/// (`U`: `String` for a string enum, `i64` for an integer one).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpenEnum<T, U = String> {
    /// A value the spec lists.
    Known(T),
    /// A value the spec (this version of it) does not list, exactly as it came.
    Unknown(U),
}

impl<T, U> OpenEnum<T, U> {
    /// The listed value, if it is one.
    pub fn known(&self) -> Option<&T> {
        match self {
            Self::Known(known) => Some(known),
            Self::Unknown(_) => None,
        }
    }

    /// The listed value, if it is one, by value.
    pub fn into_known(self) -> Option<T> {
        match self {
            Self::Known(known) => Some(known),
            Self::Unknown(_) => None,
        }
    }

    /// The unlisted value as it came, if it is one.
    pub fn unknown(&self) -> Option<&U> {
        match self {
            Self::Known(_) => None,
            Self::Unknown(unknown) => Some(unknown),
        }
    }

    /// Whether the value is one the spec lists.
    pub fn is_known(&self) -> bool {
        matches!(self, Self::Known(_))
    }
}

impl<T, U> From<T> for OpenEnum<T, U> {
    fn from(known: T) -> Self {
        Self::Known(known)
    }
}

/// `status == TransactionStatus::Completed`, without naming the variant `Known`.
impl<T: PartialEq, U> PartialEq<T> for OpenEnum<T, U> {
    fn eq(&self, other: &T) -> bool {
        self.known() == Some(other)
    }
}

impl<T: Default, U> Default for OpenEnum<T, U> {
    fn default() -> Self {
        Self::Known(T::default())
    }
}

/// The wire value: the one `T` displays, or the unlisted one.
impl<T: fmt::Display, U: fmt::Display> fmt::Display for OpenEnum<T, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Known(known) => known.fmt(f),
            Self::Unknown(unknown) => unknown.fmt(f),
        }
    }
}

/// A value `T` parses, or else an unlisted one (never an error for `U = String`).
impl<T: FromStr, U: FromStr> FromStr for OpenEnum<T, U> {
    type Err = U::Err;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match T::from_str(s) {
            Ok(known) => Ok(Self::Known(known)),
            Err(_) => U::from_str(s).map(Self::Unknown),
        }
    }
}

impl<T: Serialize, U: Serialize> Serialize for OpenEnum<T, U> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Known(known) => known.serialize(serializer),
            Self::Unknown(unknown) => unknown.serialize(serializer),
        }
    }
}

/// A value `T` accepts, or else one `U` accepts (any string, for `U = String`): anything else
/// (a number where a string enum is expected) is an error.
impl<'de, T: DeserializeOwned, U: DeserializeOwned> Deserialize<'de> for OpenEnum<T, U> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        if let Ok(known) = T::deserialize(&value) {
            return Ok(Self::Known(known));
        }
        U::deserialize(value)
            .map(Self::Unknown)
            .map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    /// What typify generates for a string enum, in short.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
    enum Status {
        #[serde(rename = "Completed")]
        Completed,
        #[serde(rename = ">=")]
        Ge,
    }

    impl fmt::Display for Status {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(match self {
                Self::Completed => "Completed",
                Self::Ge => ">=",
            })
        }
    }

    impl FromStr for Status {
        type Err = &'static str;
        fn from_str(s: &str) -> Result<Self, Self::Err> {
            serde_json::from_value(json!(s)).map_err(|_| "invalid value")
        }
    }

    /// What typify generates for an integer enum: a newtype checked on deserialization.
    #[derive(Clone, Debug, PartialEq, Serialize)]
    struct Code(i64);

    impl<'de> Deserialize<'de> for Code {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            match i64::deserialize(deserializer)? {
                code @ (100 | 110) => Ok(Self(code)),
                _ => Err(D::Error::custom("invalid value")),
            }
        }
    }

    #[test]
    fn listed_values_are_known_and_unlisted_ones_kept_as_they_came() {
        let known: OpenEnum<Status> = serde_json::from_value(json!(">=")).unwrap();
        assert_eq!(known, OpenEnum::Known(Status::Ge));
        assert_eq!(known, Status::Ge);
        let unknown: OpenEnum<Status> = serde_json::from_value(json!("Frozen")).unwrap();
        assert_eq!(unknown, OpenEnum::Unknown("Frozen".to_owned()));
        assert!(!unknown.is_known() && unknown.known().is_none());
        for value in [json!(">="), json!("Completed"), json!("Frozen")] {
            let parsed: OpenEnum<Status> = serde_json::from_value(value.clone()).unwrap();
            assert_eq!(serde_json::to_value(&parsed).unwrap(), value);
            assert_eq!(parsed.to_string(), value.as_str().unwrap());
            assert_eq!(parsed.to_string().parse::<OpenEnum<Status>>(), Ok(parsed));
        }
        // Not a string at all: still an error.
        assert!(serde_json::from_value::<OpenEnum<Status>>(json!(3)).is_err());
    }

    #[test]
    fn integer_enums_keep_unlisted_numbers() {
        let known: OpenEnum<Code, i64> = serde_json::from_value(json!(110)).unwrap();
        assert_eq!(known, Code(110));
        let unknown: OpenEnum<Code, i64> = serde_json::from_value(json!(150)).unwrap();
        assert_eq!(unknown, OpenEnum::Unknown(150));
        assert_eq!(serde_json::to_value(&unknown).unwrap(), json!(150));
        assert!(serde_json::from_value::<OpenEnum<Code, i64>>(json!("150")).is_err());
    }

    #[test]
    fn an_unlisted_value_inside_a_struct_leaves_the_rest_typed() {
        #[derive(Debug, Deserialize, Serialize)]
        struct Transaction {
            status: OpenEnum<Status>,
            amount: String,
        }
        let body = json!({"status": "Frozen", "amount": "1.5"});
        let transaction: Transaction = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(transaction.amount, "1.5");
        assert_eq!(
            transaction.status.unknown().map(String::as_str),
            Some("Frozen")
        );
        assert_eq!(serde_json::to_value(&transaction).unwrap(), body);
        assert_eq!(
            OpenEnum::<Status>::from(Status::Completed),
            Status::Completed
        );
    }
}
