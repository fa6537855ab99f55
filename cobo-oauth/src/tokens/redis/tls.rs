//! The TLS options of a `rediss://` connection: which CA to trust (the system's roots unless one
//! is given) and an optional client certificate for mutual TLS.

use std::fmt;
use std::path::PathBuf;

use redis::{ClientTlsConfig, TlsCertificates};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use zeroize::Zeroizing;

use super::super::store::StoreError;

/// PEM given in memory, or a file read when connecting.
#[derive(Clone)]
enum Pem {
    /// The PEM itself (zeroized when dropped: it may be a private key).
    Bytes(Zeroizing<Vec<u8>>),
    /// A file holding it.
    File(PathBuf),
}

impl Pem {
    /// The bytes; `what` names them in the error when the file cannot be read.
    fn read(&self, what: &str) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        match self {
            Self::Bytes(bytes) => Ok(bytes.clone()),
            Self::File(path) => {
                std::fs::read(path)
                    .map(Zeroizing::new)
                    .map_err(|e| StoreError::Config {
                        reason: format!("cannot read the {what} {}: {e}", path.display()),
                    })
            }
        }
    }

    /// Where it comes from, for Debug output: a path, or only that it was given.
    fn source(&self) -> String {
        match self {
            Self::Bytes(_) => "<pem>".to_owned(),
            Self::File(path) => path.display().to_string(),
        }
    }
}

/// A client certificate (chain) and its private key, for mutual TLS.
#[derive(Clone)]
struct ClientIdentity {
    /// The certificate chain, leaf first.
    cert: Pem,
    /// The private key. Never shown.
    key: Pem,
}

/// Whom a `rediss://` connection trusts and how it identifies itself.
#[derive(Clone, Default)]
pub(super) struct TlsOptions {
    /// The CA to trust instead of the system's roots.
    ca: Option<Pem>,
    /// The client certificate, when the server asks for one.
    client: Option<ClientIdentity>,
}

impl TlsOptions {
    /// Trusts the CA certificate(s) in `pem` instead of the system's roots.
    pub fn trust_pem(&mut self, pem: Vec<u8>) {
        self.ca = Some(Pem::Bytes(Zeroizing::new(pem)));
    }

    /// Trusts the CA certificate(s) in the file at `path`, read when connecting.
    pub fn trust_file(&mut self, path: PathBuf) {
        self.ca = Some(Pem::File(path));
    }

    /// Identifies with the certificate chain `cert` and its private key `key` (PEM).
    pub fn identify_pem(&mut self, cert: Vec<u8>, key: Vec<u8>) {
        self.client = Some(ClientIdentity {
            cert: Pem::Bytes(Zeroizing::new(cert)),
            key: Pem::Bytes(Zeroizing::new(key)),
        });
    }

    /// Identifies with the certificate chain and private key in the files `cert` and `key`,
    /// read when connecting.
    pub fn identify_files(&mut self, cert: PathBuf, key: PathBuf) {
        self.client = Some(ClientIdentity {
            cert: Pem::File(cert),
            key: Pem::File(key),
        });
    }
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("ca", &self.ca.as_ref().map(Pem::source))
            .field(
                "client_cert",
                &self.client.as_ref().map(|c| c.cert.source()),
            )
            .field("client_key", &self.client.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl TlsOptions {
    /// Whether anything was given (a CA or a client certificate).
    pub fn is_set(&self) -> bool {
        self.ca.is_some() || self.client.is_some()
    }

    /// The certificates in the form redis-rs takes them, read and checked.
    ///
    /// redis-rs takes the key as a plain `Vec`, which it drops without zeroizing after parsing
    /// it; every copy made here is zeroized.
    pub fn certificates(&self) -> Result<TlsCertificates, StoreError> {
        let root_cert = match &self.ca {
            Some(ca) => {
                let pem = ca.read("Redis CA file")?;
                let certificates = CertificateDer::pem_slice_iter(&pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| StoreError::Config {
                        reason: format!("the Redis CA is not valid PEM: {e}"),
                    })?;
                if certificates.is_empty() {
                    return Err(StoreError::Config {
                        reason: "the Redis CA PEM holds no certificate".to_owned(),
                    });
                }
                Some(pem.to_vec())
            }
            None => None,
        };
        let client_tls = match &self.client {
            Some(identity) => Some(ClientTlsConfig {
                client_cert: identity
                    .cert
                    .read("Redis client certificate file")?
                    .to_vec(),
                client_key: identity.key.read("Redis client key file")?.to_vec(),
            }),
            None => None,
        };
        Ok(TlsCertificates {
            client_tls,
            root_cert,
        })
    }
}

/// Makes sure rustls has a process-wide crypto provider before redis-rs builds its TLS
/// configuration (which it does with `rustls::ClientConfig::builder()`): that call panics when
/// the linked rustls features leave the choice open. Installs aws-lc-rs, the provider reqwest
/// already uses, only when none is installed.
pub(super) fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: some provider is then installed.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}
