//! Metrics: every name this crate records, its labels and what it counts, in one place.
//!
//! With feature `metrics`, the crate records through the [`metrics`](https://docs.rs/metrics)
//! facade: install any recorder in the app (e.g. `metrics-exporter-prometheus`, as
//! `examples/downstream/examples/portal_app.rs` does) and these appear. The library installs no
//! recorder and starts no exporter. Without the feature, the recording functions below are
//! empty and compile to nothing (no clock is read, nothing is classified).
//!
//! No label names an organization, a token, a wallet or an event: every label takes a few
//! values fixed by this crate (or, for `operation`, by the spec: one per generated operation;
//! for `client_id`, one per [`OrgTokens`](crate::tokens::orgs::OrgTokens) of the process), so
//! the number of series stays bounded however many organizations an app serves.
//!
//! | Name | Type | Labels | What |
//! |---|---|---|---|
//! | [`RENEWALS`] `cobo_oauth_renewals_total` | counter | `kind`: `refresh`, `grant`; `outcome`: `ok`, `rate_limited`, `refused`, `outcome_unknown`, `error` | Token requests a `TokenManager` sent Cobo (every organization of an `OrgTokens` has one), by answer. `refused`: the refresh token was rejected (`invalid_grant`, a grant follows) or the grant was refused (the organization must authorize the app again). `outcome_unknown`: the refresh may have reached Cobo and no usable answer came (the refresh token is never sent again). |
//! | [`RATE_LIMIT_PAUSES`] `cobo_oauth_rate_limit_pause_seconds` | histogram | | Pauses of every renewal an `OrgTokens` started because Cobo rate-limited the app (HTTP 429 or error 2026), one sample per episode: its length in seconds (`_count`: how many pauses, `_sum`: their seconds). |
//! | [`UNINSTALL_MARKS`] `cobo_oauth_uninstall_marks_total` | counter | | Organizations an `OrgTokens` marked as having uninstalled the app (Cobo refused their new grant): once per mark, not per refused call. |
//! | [`INBOUND_SIGNATURES`] `cobo_oauth_inbound_signatures_total` | counter | `outcome`: `accepted`, `refused`; `reason`: `none`, `missing_header`, `malformed`, `malformed_timestamp`, `bad_signature`, `stale` | Webhook events and callbacks checked by `InboundVerifier::verify` / `check` (one scheme for both: the kind is known only once the body is parsed). |
//! | [`INBOUND_ADMISSIONS`] `cobo_oauth_inbound_admissions_total` | counter | `kind`: `webhook`, `callback`; `outcome`: `accepted`, `refused`; `reason`: `none`, `wrong_endpoint`, `unknown_subject`, `check_failed` | Signed messages checked for being meant for this app (`admit_webhook`, `admit_callback`, and the axum extractors through them). |
//! | [`USER_INFO_TOKENS`] `cobo_oauth_user_info_tokens_total` | counter | `outcome`: `accepted`, `refused`; `reason`: `none`, `malformed`, `unsigned`, `algorithm_not_allowed`, `missing_kid`, `unknown_kid`, `key_algorithm_mismatch`, `bad_signature`, `expired`, `not_yet_valid`, `wrong_issuer`, `wrong_audience`, `bad_claim`, `jwks` | User Info Tokens checked by `UserInfoVerifier::verify` (feature `jwt`). |
//! | [`DEDUP`] `cobo_oauth_dedup_total` | counter | `outcome`: `claimed`, `duplicate`, `in_progress`, `completed`, `lapsed`, `released`, `error` | Webhook deliveries run by `ClaimRunner::run`: `claimed` (this delivery handles the event), `duplicate` (handled before: 200), `in_progress` (another delivery holds it: 503); then for a claimed one `completed`, `lapsed` (completed after its claim lapsed and another delivery took it: it may run twice), `released` (the handler failed) or `error` (the deduplicator failed). |
//! | [`REQUEST_DURATION`] `cobo_oauth_request_duration_seconds` | histogram | `operation`: the generated operation id (e.g. `get_token`, `list_wallets`); `status`: the last answer's HTTP status (`200`, `429`, ...; a rare one by class, `4xx`), `timeout`, `transport_error` or `rejected` (not signed, signature invalid, too large, a redirect) | Every operation the executor sent, from the first attempt to the last answer (retries included). A request resent once with a renewed Bearer token (error 1000) is two samples. |
//! | [`ORGS_TRACKED`] `cobo_oauth_orgs_tracked` | gauge | `client_id` | Organizations an `OrgTokens` keeps valid (listed from the store, installed or used here), uninstalled ones apart. |
//! | [`TOKENS_EXPIRING`] `cobo_oauth_tokens_expiring` | gauge | `client_id` | Of those, the tokens still valid but within the refresh margin of their expiry: their renewal is late. |
//! | [`TOKENS_EXPIRED`] `cobo_oauth_tokens_expired` | gauge | `client_id` | Of those, the tokens already expired: calls for them wait for a renewal. |
//! | [`ORGS_FAILING`] `cobo_oauth_orgs_failing` | gauge | `client_id` | Of those, the organizations whose last renewal failed (rate limits apart). |
//! | [`REFRESHER_LAST_RUN`] `cobo_oauth_refresher_last_run_timestamp_seconds` | gauge | `client_id` | When the background refresher last looked at its schedule (Unix seconds); at least once a minute while it runs. |
//! | [`SAVES_AWAITING_REPLICA`] `cobo_oauth_saves_awaiting_replica` | gauge | | Token pairs a Redis store saved on a primary that no replica acknowledged in time (`WAIT`): kept in process memory and saved again until one does. |
//!
//! The gauges of an `OrgTokens` are set by its background refresher as it runs (every 15 s to
//! 1 min) and by each [`OrgTokens::health`](crate::tokens::orgs::OrgTokens::health), from the
//! refresher's own state (nothing is read from the store for them).
//!
//! # What to alert on
//!
//! - `cobo_oauth_tokens_expired > 0`: an organization's calls wait for a renewal that does not
//!   come; `time() - cobo_oauth_refresher_last_run_timestamp_seconds > 120`: the refresher
//!   stopped (both make `OrgHealth::is_healthy` false).
//! - `cobo_oauth_orgs_failing > 0` for longer than a few minutes, or a rising
//!   `cobo_oauth_renewals_total{outcome=~"error|outcome_unknown"}`.
//! - `increase(cobo_oauth_rate_limit_pause_seconds_count[10m]) > 0`: the app is at Cobo's rate
//!   limit.
//! - `cobo_oauth_saves_awaiting_replica > 0` for longer than a few seconds: a shard has no
//!   replica that keeps up; a failover now could lose a rotated pair.
//! - A rising `cobo_oauth_inbound_signatures_total{outcome="refused"}`: forged or replayed
//!   deliveries, or a proxy that drops Cobo's headers.

use cobo_oauth_runtime::ExecError;

use crate::error::Error;
use crate::inbound::{ContextError, InboundError};
use crate::verify::Verdict;

/// Whether this build records metrics (feature `metrics`): work done only to record them (the
/// gauges' count over every organization) is skipped without it.
pub(crate) const ENABLED: bool = cfg!(feature = "metrics");

/// `cobo_oauth_renewals_total`: token requests sent to Cobo, by `kind` and `outcome`.
pub const RENEWALS: &str = "cobo_oauth_renewals_total";
/// `cobo_oauth_rate_limit_pause_seconds`: each pause of every renewal for a rate limit, in
/// seconds.
pub const RATE_LIMIT_PAUSES: &str = "cobo_oauth_rate_limit_pause_seconds";
/// `cobo_oauth_uninstall_marks_total`: organizations marked as having uninstalled the app.
pub const UNINSTALL_MARKS: &str = "cobo_oauth_uninstall_marks_total";
/// `cobo_oauth_inbound_signatures_total`: webhook events and callbacks whose signature was
/// checked, by `outcome` and `reason`.
pub const INBOUND_SIGNATURES: &str = "cobo_oauth_inbound_signatures_total";
/// `cobo_oauth_inbound_admissions_total`: signed messages checked for being meant for this app,
/// by `kind`, `outcome` and `reason`.
pub const INBOUND_ADMISSIONS: &str = "cobo_oauth_inbound_admissions_total";
/// `cobo_oauth_user_info_tokens_total`: User Info Tokens checked, by `outcome` and `reason`.
pub const USER_INFO_TOKENS: &str = "cobo_oauth_user_info_tokens_total";
/// `cobo_oauth_dedup_total`: webhook deliveries run under a claim, by `outcome`.
pub const DEDUP: &str = "cobo_oauth_dedup_total";
/// `cobo_oauth_request_duration_seconds`: each operation sent, by `operation` and `status`.
pub const REQUEST_DURATION: &str = "cobo_oauth_request_duration_seconds";
/// `cobo_oauth_orgs_tracked`: organizations an `OrgTokens` keeps valid, by `client_id`.
pub const ORGS_TRACKED: &str = "cobo_oauth_orgs_tracked";
/// `cobo_oauth_tokens_expiring`: tokens within the refresh margin of expiry, by `client_id`.
pub const TOKENS_EXPIRING: &str = "cobo_oauth_tokens_expiring";
/// `cobo_oauth_tokens_expired`: tracked organizations whose token expired, by `client_id`.
pub const TOKENS_EXPIRED: &str = "cobo_oauth_tokens_expired";
/// `cobo_oauth_orgs_failing`: tracked organizations whose last renewal failed, by `client_id`.
pub const ORGS_FAILING: &str = "cobo_oauth_orgs_failing";
/// `cobo_oauth_refresher_last_run_timestamp_seconds`: when the refresher last ran, by
/// `client_id`.
pub const REFRESHER_LAST_RUN: &str = "cobo_oauth_refresher_last_run_timestamp_seconds";
/// `cobo_oauth_saves_awaiting_replica`: pairs saved on a Redis primary that no replica has
/// acknowledged yet.
pub const SAVES_AWAITING_REPLICA: &str = "cobo_oauth_saves_awaiting_replica";

/// The token request of [`renewal_answered`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum TokenRequest {
    /// `refresh_token` with the current refresh token.
    Refresh,
    /// A new `org_implicit` grant.
    Grant,
}

/// Cobo answered a token request (or it failed): [`RENEWALS`].
#[inline]
pub(crate) fn renewal_answered<T>(request: TokenRequest, answer: &Result<T, Error>) {
    let kind = match request {
        TokenRequest::Refresh => "refresh",
        TokenRequest::Grant => "grant",
    };
    let outcome = match answer {
        Ok(_) => "ok",
        Err(error) if error.is_rate_limited() => "rate_limited",
        Err(Error::RefreshOutcomeUnknown(_)) => "outcome_unknown",
        Err(Error::ReauthorizationRequired { .. }) => "refused",
        Err(Error::OAuth { error, .. }) if error == "invalid_grant" => "refused",
        Err(_) => "error",
    };
    facade::count(RENEWALS, &[("kind", kind), ("outcome", outcome)]);
}

/// Every renewal of an app's organizations pauses for `pause`: [`RATE_LIMIT_PAUSES`].
#[inline]
pub(crate) fn rate_limit_paused(pause: std::time::Duration) {
    facade::record(RATE_LIMIT_PAUSES, pause.as_secs_f64());
}

/// An organization was marked as having uninstalled the app: [`UNINSTALL_MARKS`].
#[inline]
pub(crate) fn uninstall_marked() {
    facade::count(UNINSTALL_MARKS, &[]);
}

/// A webhook event's or callback's signature was checked: [`INBOUND_SIGNATURES`].
#[inline]
pub(crate) fn signature_checked<T>(outcome: &Result<T, InboundError>) {
    let reason = match outcome {
        Ok(_) => "none",
        Err(InboundError::MissingHeader { .. }) => "missing_header",
        Err(InboundError::Malformed { .. }) => "malformed",
        Err(InboundError::MalformedTimestamp) => "malformed_timestamp",
        Err(InboundError::BadSignature) => "bad_signature",
        Err(InboundError::Stale { .. }) => "stale",
    };
    facade::count(
        INBOUND_SIGNATURES,
        &[("outcome", accepted(outcome.is_ok())), ("reason", reason)],
    );
}

/// What [`admission_checked`] checked.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Inbound {
    /// A webhook event.
    Webhook,
    /// A transaction-approval callback.
    Callback,
}

/// A signed message was checked for being meant for this app: [`INBOUND_ADMISSIONS`].
#[inline]
pub(crate) fn admission_checked(kind: Inbound, outcome: &Result<(), ContextError>) {
    let kind = match kind {
        Inbound::Webhook => "webhook",
        Inbound::Callback => "callback",
    };
    let reason = match outcome {
        Ok(()) => "none",
        Err(ContextError::WrongEndpoint) => "wrong_endpoint",
        Err(ContextError::UnknownSubject) => "unknown_subject",
        Err(ContextError::CheckFailed { .. }) => "check_failed",
    };
    facade::count(
        INBOUND_ADMISSIONS,
        &[
            ("kind", kind),
            ("outcome", accepted(outcome.is_ok())),
            ("reason", reason),
        ],
    );
}

/// A User Info Token was checked: [`USER_INFO_TOKENS`].
#[cfg(feature = "jwt")]
#[inline]
pub(crate) fn user_info_checked<T>(outcome: &Result<T, crate::inbound::UserInfoError>) {
    use crate::inbound::UserInfoError as E;
    let reason = match outcome {
        Ok(_) => "none",
        Err(E::Malformed { .. }) => "malformed",
        Err(E::Unsigned) => "unsigned",
        Err(E::AlgorithmNotAllowed { .. }) => "algorithm_not_allowed",
        Err(E::MissingKid) => "missing_kid",
        Err(E::UnknownKid { .. }) => "unknown_kid",
        Err(E::KeyAlgorithmMismatch { .. }) => "key_algorithm_mismatch",
        Err(E::BadSignature) => "bad_signature",
        Err(E::Expired) => "expired",
        Err(E::NotYetValid) => "not_yet_valid",
        Err(E::WrongIssuer) => "wrong_issuer",
        Err(E::WrongAudience) => "wrong_audience",
        Err(E::BadClaim { .. }) => "bad_claim",
        Err(E::Jwks(_)) => "jwks",
    };
    facade::count(
        USER_INFO_TOKENS,
        &[("outcome", accepted(outcome.is_ok())), ("reason", reason)],
    );
}

/// What became of a webhook delivery run under a claim: [`DEDUP`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dedup {
    /// This delivery claimed the event.
    Claimed,
    /// The event was handled before.
    Duplicate,
    /// Another delivery holds the event.
    InProgress,
    /// The handler succeeded and the event was marked completed.
    Completed,
    /// The handler succeeded after its claim lapsed and another delivery took it.
    Lapsed,
    /// The handler failed; the claim was released.
    Released,
    /// The deduplicator failed.
    Error,
}

/// A webhook delivery run under a claim reached `step`: [`DEDUP`].
#[inline]
pub(crate) fn dedup(step: Dedup) {
    let outcome = match step {
        Dedup::Claimed => "claimed",
        Dedup::Duplicate => "duplicate",
        Dedup::InProgress => "in_progress",
        Dedup::Completed => "completed",
        Dedup::Lapsed => "lapsed",
        Dedup::Released => "released",
        Dedup::Error => "error",
    };
    facade::count(DEDUP, &[("outcome", outcome)]);
}

/// The executor finished sending `operation` (started at `started`): [`REQUEST_DURATION`].
#[inline]
pub(crate) fn request_finished(
    operation: &'static str,
    outcome: &Result<(reqwest::Response, Verdict), ExecError>,
    started: tokio::time::Instant,
) {
    let status = match outcome {
        Ok((response, _)) => status_label(response.status().as_u16()),
        Err(ExecError::Transport(error)) if error.is_timeout() => "timeout",
        Err(ExecError::Transport(_)) => "transport_error",
        Err(ExecError::Rejected(_)) => "rejected",
    };
    facade::seconds_since(
        REQUEST_DURATION,
        &[("operation", operation), ("status", status)],
        started,
    );
}

/// What the gauges of an `OrgTokens` show: see [`ORGS_TRACKED`] and the gauges after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OrgGauges {
    pub tracked: usize,
    pub expiring: usize,
    pub expired: usize,
    pub failing: usize,
    /// Unix milliseconds; 0: never.
    pub refresher_last_run_ms: u64,
}

/// Sets the gauges of the `OrgTokens` of `client_id`.
#[inline]
pub(crate) fn org_gauges(client_id: &str, gauges: OrgGauges) {
    facade::gauge(ORGS_TRACKED, client_id, gauges.tracked as f64);
    facade::gauge(TOKENS_EXPIRING, client_id, gauges.expiring as f64);
    facade::gauge(TOKENS_EXPIRED, client_id, gauges.expired as f64);
    facade::gauge(ORGS_FAILING, client_id, gauges.failing as f64);
    if gauges.refresher_last_run_ms > 0 {
        facade::gauge(
            REFRESHER_LAST_RUN,
            client_id,
            gauges.refresher_last_run_ms as f64 / 1_000.0,
        );
    }
}

/// A Redis store saved a pair that no replica acknowledged in time, and keeps it in memory to
/// save again: [`SAVES_AWAITING_REPLICA`] goes up by one. Call [`save_replicated`] when a
/// replica acknowledges it (or it is superseded).
#[cfg(feature = "redis")]
#[inline]
pub(crate) fn save_awaits_replica() {
    facade::gauge_add(SAVES_AWAITING_REPLICA, 1.0);
}

/// A pair counted by [`save_awaits_replica`] was acknowledged by a replica, or superseded:
/// [`SAVES_AWAITING_REPLICA`] goes down by one.
#[cfg(feature = "redis")]
#[inline]
pub(crate) fn save_replicated() {
    facade::gauge_add(SAVES_AWAITING_REPLICA, -1.0);
}

fn accepted(ok: bool) -> &'static str {
    if ok { "accepted" } else { "refused" }
}

/// The `status` label of an HTTP status: the code for the common ones, the class otherwise
/// (never a string made per request).
fn status_label(status: u16) -> &'static str {
    let common = match status {
        200 => "200",
        201 => "201",
        204 => "204",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        408 => "408",
        409 => "409",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => "",
    };
    match (common, status / 100) {
        ("", 1) => "1xx",
        ("", 2) => "2xx",
        ("", 3) => "3xx",
        ("", 4) => "4xx",
        ("", 5) => "5xx",
        ("", _) => "other",
        (code, _) => code,
    }
}

/// The `metrics` facade, with feature `metrics`.
#[cfg(feature = "metrics")]
mod facade {
    type Labels<'a> = &'a [(&'static str, &'static str)];

    pub fn count(name: &'static str, labels: Labels<'_>) {
        ::metrics::counter!(name, labels).increment(1);
    }

    pub fn record(name: &'static str, value: f64) {
        ::metrics::histogram!(name).record(value);
    }

    pub fn seconds_since(name: &'static str, labels: Labels<'_>, started: tokio::time::Instant) {
        ::metrics::histogram!(name, labels).record(started.elapsed().as_secs_f64());
    }

    pub fn gauge(name: &'static str, client_id: &str, value: f64) {
        ::metrics::gauge!(name, "client_id" => client_id.to_owned()).set(value);
    }

    #[cfg(feature = "redis")]
    pub fn gauge_add(name: &'static str, delta: f64) {
        ::metrics::gauge!(name).increment(delta);
    }
}

/// Without feature `metrics`: nothing, and the arguments are never computed for it.
#[cfg(not(feature = "metrics"))]
mod facade {
    type Labels<'a> = &'a [(&'static str, &'static str)];

    #[inline(always)]
    pub fn count(_: &'static str, _: Labels<'_>) {}

    #[inline(always)]
    pub fn record(_: &'static str, _: f64) {}

    #[inline(always)]
    pub fn seconds_since(_: &'static str, _: Labels<'_>, _: tokio::time::Instant) {}

    #[inline(always)]
    pub fn gauge(_: &'static str, _: &str, _: f64) {}

    #[inline(always)]
    #[cfg(feature = "redis")]
    pub fn gauge_add(_: &'static str, _: f64) {}
}

#[cfg(test)]
mod tests {
    #[test]
    fn status_labels_are_the_code_or_the_class() {
        assert_eq!(super::status_label(429), "429");
        assert_eq!(super::status_label(418), "4xx");
        assert_eq!(super::status_label(299), "2xx");
        assert_eq!(super::status_label(999), "other");
    }
}
