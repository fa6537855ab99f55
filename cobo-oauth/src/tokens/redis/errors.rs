//! Redis failures as store errors: what only a person can fix (TLS certificates, credentials,
//! ACL permissions, script errors) is permanent; what may pass (a dead or busy server, a
//! timeout, a failover) is [`StoreError::Io`], retried.

use std::error::Error as StdError;
use std::sync::Arc;

use redis::{ErrorKind, RedisError, ServerErrorKind};

use super::super::store::StoreError;

/// Server error codes that may pass on their own: loading a dump, a script running too long,
/// out of memory, a failing disk, a failover, a cluster's slots moving or a cluster that is
/// down (redis-rs's cluster client follows `MOVED` and `ASK` itself; one that still reaches us
/// ran out of tries).
const PASSING_CODES: &[&str] = &[
    "LOADING",
    "BUSY",
    "OOM",
    "MISCONF",
    "READONLY",
    "MASTERDOWN",
    "NOREPLICAS",
    "TRYAGAIN",
    "CLUSTERDOWN",
    "MOVED",
    "ASK",
];

/// `error` from the Redis at `endpoint` (`redis://host:port/db`, no credentials) as a store
/// error. `password` (the URL's, if any) is cut out of every message, whatever redis-rs wrote.
pub(super) fn store_error(
    endpoint: &str,
    password: Option<&str>,
    error: &RedisError,
) -> StoreError {
    let path = endpoint.to_owned();
    let shown = redact(&error.to_string(), password);
    if let Some(tls) = find::<rustls::Error>(error) {
        if !is_certificate_problem(tls) {
            // A handshake that failed for another reason (a reset, a decryption error, an
            // internal alert) may pass: retried.
            return io(path, redact(&tls_reason(tls), password));
        }
        return StoreError::Tls {
            path,
            reason: redact(&tls_reason(tls), password),
        };
    }
    if find::<rustls::pki_types::InvalidDnsNameError>(error).is_some() {
        return StoreError::Config {
            reason: format!(
                "the host of the rediss:// URL is not a valid TLS server name: {shown}"
            ),
        };
    }
    let code = error.code().unwrap_or_default();
    match error.kind() {
        ErrorKind::AuthenticationFailed => refused(path, auth_reason(&shown)),
        _ if matches!(code, "NOAUTH" | "WRONGPASS") => refused(path, auth_reason(&shown)),
        ErrorKind::Server(ServerErrorKind::NoPerm) => refused(
            path,
            format!(
                "the Redis user lacks an ACL permission ({shown}); it needs the keys \
                 ~<prefix>:* and the commands HMGET, HINCRBY, SET, EVALSHA, EVAL, SCRIPT LOAD, \
                 HGET, HSET, DEL, GET and PEXPIRE; WAIT and INFO where replicas acknowledge; \
                 CLUSTER SLOTS (and SCAN) on a Redis Cluster"
            ),
        ),
        _ if PASSING_CODES.contains(&code)
            || names_a_passing_code(&shown)
            || shown.contains("max number of clients") =>
        {
            io(path, shown)
        }
        // Any other server error: a script error, an unknown command, a wrong database index,
        // a key of the wrong type. Sending the same again gets the same answer.
        ErrorKind::Server(_)
        | ErrorKind::Extension
        | ErrorKind::UnexpectedReturnType
        | ErrorKind::InvalidClientConfig => refused(path, shown),
        // Connection failures, timeouts, a dropped connection, a garbled reply.
        _ => io(path, shown),
    }
}

/// Whether a message names one of [`PASSING_CODES`] as a word: Redis before 7 reports an
/// error inside a script as `ERR Error running script ... -READONLY ...`, with code `ERR`.
fn names_a_passing_code(message: &str) -> bool {
    message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| PASSING_CODES.contains(&word))
}

/// Whether a TLS failure is about certificates (only a person can fix it), not a passing fault.
fn is_certificate_problem(error: &rustls::Error) -> bool {
    matches!(
        error,
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
    ) || refused_our_certificate(error)
}

/// Whether the server ended the handshake because of our client certificate (or its absence).
fn refused_our_certificate(error: &rustls::Error) -> bool {
    use rustls::AlertDescription as Alert;
    matches!(
        error,
        rustls::Error::AlertReceived(
            Alert::CertificateRequired
                | Alert::BadCertificate
                | Alert::UnknownCA
                | Alert::CertificateUnknown
                | Alert::CertificateExpired
                | Alert::CertificateRevoked
                | Alert::UnsupportedCertificate
                | Alert::AccessDenied
                | Alert::HandshakeFailure,
        )
    )
}

fn io(path: String, reason: String) -> StoreError {
    StoreError::Io { path, reason }
}

fn refused(path: String, reason: String) -> StoreError {
    StoreError::Refused { path, reason }
}

fn auth_reason(shown: &str) -> String {
    format!(
        "authentication failed ({shown}): check the user name and password in the Redis URL, \
         and that the user is enabled"
    )
}

/// What went wrong in the TLS handshake, and what to do about it.
fn tls_reason(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(_) => format!(
            "TLS certificate verification failed: the server's certificate is not trusted \
             ({error}); give the CA that signed it (RedisStoreBuilder::tls_ca_pem or \
             COBO_REDIS_CA_FILE)"
        ),
        _ if refused_our_certificate(error) => format!(
            "the server refused the TLS handshake ({error}): it wants a client certificate \
             signed by a CA it trusts (RedisStoreBuilder::tls_client_cert_pem or \
             COBO_REDIS_CLIENT_CERT_FILE and COBO_REDIS_CLIENT_KEY_FILE)"
        ),
        _ => format!("the TLS handshake failed ({error}); is the server's port a TLS port?"),
    }
}

/// The first error of type `T` in `error`'s chain, looking through the `Arc`s and I/O errors
/// redis-rs and tokio-rustls wrap it in.
fn find<T: StdError + 'static>(error: &RedisError) -> Option<&T> {
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    // Bounded: a chain is a handful of errors deep.
    for _ in 0..16 {
        let current = next?;
        if let Some(found) = current.downcast_ref::<T>() {
            return Some(found);
        }
        next = if let Some(shared) = current.downcast_ref::<Arc<dyn StdError + Send + Sync>>() {
            Some(shared.as_ref())
        } else if let Some(io) = current.downcast_ref::<std::io::Error>() {
            // `io::Error::source` skips the error it wraps.
            match io.get_ref() {
                Some(inner) => Some(inner),
                None => io.source(),
            }
        } else {
            current.source()
        };
    }
    None
}

/// `message` with every occurrence of `password` replaced.
fn redact(message: &str, password: Option<&str>) -> String {
    match password {
        Some(password) if !password.is_empty() => message.replace(password, "<redacted>"),
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(error: RedisError) -> StoreError {
        store_error("redis://127.0.0.1:6379/0", Some("hunter2"), &error)
    }

    #[test]
    fn refusals_are_refused_and_outages_are_io() {
        let wrong_password = RedisError::from((
            ErrorKind::AuthenticationFailed,
            "Password authentication failed",
        ));
        assert!(matches!(
            classify(wrong_password),
            StoreError::Refused { .. }
        ));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(matches!(
            classify(RedisError::from(refused)),
            StoreError::Io { .. }
        ));
        let timeout = std::io::Error::from(std::io::ErrorKind::TimedOut);
        assert!(matches!(
            classify(RedisError::from(timeout)),
            StoreError::Io { .. }
        ));
    }

    #[test]
    fn tls_errors_are_found_inside_io_errors() {
        let untrusted = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let wrapped = std::io::Error::new(std::io::ErrorKind::InvalidData, untrusted);
        let error = classify(RedisError::from(wrapped));
        assert!(matches!(error, StoreError::Tls { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("certificate verification failed"),
            "{error}"
        );
    }

    #[test]
    fn passing_faults_reported_inside_a_script_error_or_a_handshake_stay_transient() {
        let script = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ResponseError),
            "An error was signalled by the server",
            "Error running script (call to f_1): @user_script:2: -READONLY You can't write against a read only replica.".to_owned(),
        ));
        let error = classify(script);
        assert!(matches!(error, StoreError::Io { .. }), "{error:?}");
        let real_script_error = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ResponseError),
            "An error was signalled by the server",
            "Error running script: @user_script:1: attempt to compare nil with number".to_owned(),
        ));
        assert!(matches!(
            classify(real_script_error),
            StoreError::Refused { .. }
        ));
        let internal = rustls::Error::AlertReceived(rustls::AlertDescription::InternalError);
        let wrapped = std::io::Error::new(std::io::ErrorKind::InvalidData, internal);
        let error = classify(RedisError::from(wrapped));
        assert!(matches!(error, StoreError::Io { .. }), "{error:?}");
    }

    #[test]
    fn a_cluster_moving_slots_or_down_is_transient() {
        for (kind, code) in [
            (ServerErrorKind::Moved, "MOVED 3999 127.0.0.1:6381"),
            (ServerErrorKind::Ask, "ASK 3999 127.0.0.1:6381"),
            (
                ServerErrorKind::ClusterDown,
                "CLUSTERDOWN The cluster is down",
            ),
            (
                ServerErrorKind::TryAgain,
                "TRYAGAIN Multiple keys request during rehashing",
            ),
        ] {
            let error = classify(RedisError::from((
                ErrorKind::Server(kind),
                "An error was signalled by the server",
                code.to_owned(),
            )));
            assert!(matches!(error, StoreError::Io { .. }), "{code}: {error:?}");
        }
    }

    #[test]
    fn the_password_is_cut_out() {
        let error = RedisError::from((
            ErrorKind::InvalidClientConfig,
            "bad",
            "redis://u:hunter2@h".to_owned(),
        ));
        let shown = format!("{}", classify(error));
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
