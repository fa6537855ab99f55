//! The request log behind [`MockServer::requests`](super::MockServer::requests): bounded by
//! entries and by bytes, the oldest entries dropped first.

use std::collections::VecDeque;

use super::RecordedRequest;

/// The requests kept, oldest first, with the bytes they hold.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    entries: VecDeque<RecordedRequest>,
    bytes: u64,
}

impl RequestLog {
    /// Adds `request`, dropping the oldest entries until at most `max_entries` (at least one)
    /// and `max_bytes` remain. A request too large for `max_bytes` on its own is kept without
    /// its body.
    pub fn push(&mut self, mut request: RecordedRequest, max_entries: usize, max_bytes: u64) {
        if size(&request) > max_bytes {
            request.body = Vec::new();
            request.body_kept = false;
        }
        let added = size(&request);
        while !self.entries.is_empty()
            && (self.entries.len() >= max_entries.max(1)
                || self.bytes.saturating_add(added) > max_bytes)
        {
            if let Some(oldest) = self.entries.pop_front() {
                self.bytes = self.bytes.saturating_sub(size(&oldest));
            }
        }
        self.bytes = self.bytes.saturating_add(added);
        self.entries.push_back(request);
    }

    /// The requests kept, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &RecordedRequest> {
        self.entries.iter()
    }

    /// The bytes the kept requests hold, as [`size`] counts them.
    #[cfg(test)]
    fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// What one entry holds: its text fields, its body, and the entry itself.
fn size(request: &RecordedRequest) -> u64 {
    let text = [
        Some(&request.method),
        Some(&request.path),
        Some(&request.query),
        request.api_key.as_ref(),
        request.nonce.as_ref(),
        request.authorization.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(String::len)
    .sum::<usize>();
    let bytes = std::mem::size_of::<RecordedRequest>()
        .saturating_add(text)
        .saturating_add(request.body.len());
    u64::try_from(bytes).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(nonce: &str, body: usize) -> RecordedRequest {
        RecordedRequest {
            method: "POST".to_owned(),
            path: "/v2/oauth/token".to_owned(),
            query: String::new(),
            body: vec![b'x'; body],
            body_kept: true,
            api_key: None,
            nonce: Some(nonce.to_owned()),
            authorization: None,
            received_at_ms: 0,
        }
    }

    fn nonces(log: &RequestLog) -> Vec<&str> {
        log.iter().filter_map(|r| r.nonce.as_deref()).collect()
    }

    #[test]
    fn the_oldest_entries_go_first_to_stay_within_the_bytes_and_the_entries() {
        let mut log = RequestLog::default();
        for n in 0..5 {
            log.push(request(&n.to_string(), 1_000), 100, 2_500);
        }
        assert_eq!(nonces(&log), ["3", "4"]);
        assert!(log.bytes() <= 2_500, "{}", log.bytes());
        assert_eq!(
            log.bytes(),
            log.iter().map(size).sum::<u64>(),
            "the count follows what is kept"
        );
        for n in 5..8 {
            log.push(request(&n.to_string(), 0), 2, 2_500);
        }
        assert_eq!(nonces(&log), ["6", "7"]);
        assert_eq!(log.bytes(), log.iter().map(size).sum::<u64>());
    }

    #[test]
    fn a_request_larger_than_the_cap_alone_is_kept_without_its_body() {
        let mut log = RequestLog::default();
        log.push(request("small", 10), 100, 1_000);
        log.push(request("huge", 5_000), 100, 1_000);
        let kept: Vec<_> = log.iter().map(|r| (r.body.len(), r.body_kept)).collect();
        assert_eq!(kept, [(10, true), (0, false)]);
        assert!(log.bytes() <= 1_000);
    }
}
