//! Answers registered for operations the mock does not implement itself (everything but
//! `/oauth/token`): `GET /wallets` answers this JSON, `GET /wallets/{wallet_id}` that one.

use serde_json::Value;

use super::pages::PagedList;
use super::reply::Reply;

/// Whether an operation takes the Org Access Token (the spec's `OAuth2` scheme).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bearer {
    /// The request must carry `Authorization: Bearer` with an access token this mock issued and
    /// that has not expired: none is 401, an invalid or expired one Cobo's HTTP 500 with
    /// `error_code` 1000.
    Required,
    /// Signed with the app key alone.
    NotRequired,
}

/// What the mock answers to one operation: a status and a JSON body, signed like every answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
    /// Whether the operation takes the Org Access Token.
    pub bearer: Bearer,
}

impl Answer {
    /// `200` with `body`, for an operation that takes the Org Access Token.
    pub fn ok(body: Value) -> Self {
        Self {
            status: 200,
            body,
            bearer: Bearer::Required,
        }
    }
}

/// [`MockServer::answer_operation`](super::MockServer::answer_operation) was given an
/// `operationId` its table does not list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no operation {0:?} in the table")]
pub struct UnknownOperation(pub String);

/// What is registered for an operation: one answer, or a list served a page at a time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Responder {
    /// The same answer to every request.
    Fixed(Answer),
    /// The page the request's query asks for.
    Pages(PagedList, Bearer),
}

impl Responder {
    /// Whether the operation takes the Org Access Token.
    pub fn bearer(&self) -> Bearer {
        match self {
            Self::Fixed(answer) => answer.bearer,
            Self::Pages(_, bearer) => *bearer,
        }
    }

    /// The reply to a request with `query` (as received).
    pub fn reply(&self, query: &str) -> Reply {
        match self {
            Self::Fixed(answer) => Reply {
                status: answer.status,
                body: answer.body.to_string(),
            },
            Self::Pages(list, _) => list.page(query),
        }
    }
}

/// A registered answer and what it answers: a method and a path template of the API (without
/// the `/v2` prefix; `{name}` matches any one segment).
#[derive(Debug, Clone)]
pub(crate) struct Registered {
    method: String,
    template: Vec<String>,
    answer: Responder,
}

/// The registered answers, the latest first.
#[derive(Debug, Default)]
pub(crate) struct Answers(Vec<Registered>);

impl Answers {
    /// Registers `answer` for `method` and `path` (a template such as `/wallets/{wallet_id}`).
    pub fn register(&mut self, method: &str, path: &str, answer: Responder) {
        self.0.insert(
            0,
            Registered {
                method: method.to_ascii_uppercase(),
                template: segments(path).map(str::to_owned).collect(),
                answer,
            },
        );
    }

    /// The answer for a request to `method` and the API `path` (without `/v2`), if registered.
    pub fn find(&self, method: &str, path: &str) -> Option<&Responder> {
        let path: Vec<&str> = segments(path).collect();
        self.0
            .iter()
            .find(|r| {
                r.method.eq_ignore_ascii_case(method)
                    && r.template.len() == path.len()
                    && r.template.iter().zip(&path).all(|(t, p)| {
                        (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p
                    })
            })
            .map(|r| &r.answer)
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_matches('/').split('/').filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(n: u64) -> Responder {
        Responder::Fixed(Answer::ok(Value::from(n)))
    }

    #[test]
    fn templates_match_one_segment_per_parameter_and_the_latest_wins() {
        let mut answers = Answers::default();
        answers.register("get", "/wallets/{wallet_id}", fixed(1));
        answers.register("GET", "/wallets", fixed(2));
        assert_eq!(answers.find("GET", "/wallets/abc"), Some(&fixed(1)));
        assert_eq!(answers.find("GET", "/wallets"), Some(&fixed(2)));
        assert!(answers.find("POST", "/wallets").is_none());
        assert!(answers.find("GET", "/wallets/abc/addresses").is_none());
        answers.register("GET", "/wallets", fixed(3));
        assert_eq!(answers.find("GET", "/wallets"), Some(&fixed(3)));
    }
}
