//! Fault injection.

use std::collections::VecDeque;
use std::time::Duration;

/// Something to do wrong, for testing clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status, body (signed) and extra headers, without handling the request.
    Status {
        /// HTTP status.
        status: u16,
        /// Body.
        body: String,
        /// Extra headers, e.g. `Retry-After`.
        headers: Vec<(String, String)>,
    },
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Handle the request (tokens are issued or rotated), then wait this long before answering:
    /// a client that stops meanwhile never learns the new tokens.
    DelayAnswer(Duration),
    /// Handle the request (tokens are issued or rotated), then close the connection without
    /// answering: the client cannot know the outcome.
    DropConnection,
    /// Handle the request, but send the response without signature headers.
    Unsigned,
    /// Handle the request, but sign the response with a wrong signature.
    BadSignature,
    /// Handle the request and sign the answer, then change the body on its way out (its first
    /// digit, e.g. an amount or a balance; a space added when it has none): what a party
    /// between Cobo and the client might do.
    TamperBody,
    /// Answer 200 with a body that is not JSON (signed).
    MalformedJson,
    /// Handle the request (tokens are issued or rotated), then leave these top-level fields out
    /// of the JSON answer (signed): e.g. `expires_in`, which the spec makes optional.
    OmitFields(Vec<String>),
}

/// Faults waiting for requests.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue(VecDeque<(Fault, usize)>);

impl FaultQueue {
    /// Adds `fault` for the next `times` requests.
    pub fn push(&mut self, fault: Fault, times: usize) {
        if times > 0 {
            self.0.push_back((fault, times));
        }
    }

    /// Forgets every fault still waiting.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The fault for the next request, if any.
    pub fn next(&mut self) -> Option<Fault> {
        let (fault, left) = self.0.front_mut()?;
        let fault = fault.clone();
        *left -= 1;
        if *left == 0 {
            self.0.pop_front();
        }
        Some(fault)
    }
}
