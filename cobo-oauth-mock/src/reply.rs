//! Responses in Cobo's shapes.

/// A response before signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    /// 200 with a JSON body.
    pub fn ok(body: serde_json::Value) -> Self {
        Self {
            status: 200,
            body: body.to_string(),
        }
    }

    /// A 4XX OAuth error: `{error, error_description}`.
    pub fn oauth(status: u16, error: &str, description: &str) -> Self {
        Self {
            status,
            body: serde_json::json!({ "error": error, "error_description": description })
                .to_string(),
        }
    }

    /// Cobo's `ErrorResponse`: `{error_code, error_message, error_id}`.
    pub fn cobo(status: u16, code: i64, message: &str) -> Self {
        let error_id = hex::encode(rand::random::<[u8; 16]>());
        Self {
            status,
            body: serde_json::json!({ "error_code": code, "error_message": message, "error_id": error_id }).to_string(),
        }
    }

    /// The same reply with these top-level fields left out of its JSON object (unchanged when
    /// the body is not a JSON object).
    pub fn without_fields(self, fields: &[String]) -> Self {
        match serde_json::from_str::<serde_json::Value>(&self.body) {
            Ok(serde_json::Value::Object(mut object)) => {
                for field in fields {
                    object.remove(field);
                }
                Self {
                    status: self.status,
                    body: serde_json::Value::Object(object).to_string(),
                }
            }
            _ => self,
        }
    }
}
