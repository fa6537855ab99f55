//! A client for a running mock: what almost every test and benchmark starts with.

use std::sync::Arc;

use cobo_oauth::signing::{Ed25519Signer, Signer as _};
use cobo_oauth::{CoboClient, CoboClientBuilder, ConfigError};

use crate::{MockConfig, MockServer};

impl MockServer {
    /// A client builder for this mock: its [`env`](MockServer::env) (base URL and response key)
    /// and a new ed25519 key that the mock now accepts. Set anything else a test needs (retries,
    /// timeouts, Bearer operations), then `build()`.
    pub fn client_builder(&self) -> CoboClientBuilder {
        let signer = Ed25519Signer::generate();
        self.register_api_key(signer.api_key().as_str());
        CoboClient::builder()
            .env(self.env())
            .signer(Arc::new(signer))
    }

    /// A client for this mock with the defaults, signing with a new key that the mock accepts.
    pub fn client(&self) -> Result<CoboClient, ConfigError> {
        self.client_builder().build()
    }

    /// Starts a mock with `config` and returns it with a client for it ([`MockServer::client`]).
    pub async fn start_with_client(
        config: MockConfig,
    ) -> Result<(MockServer, CoboClient), StartError> {
        let server = MockServer::start(config).await.map_err(StartError::Bind)?;
        let client = server.client().map_err(StartError::Client)?;
        Ok((server, client))
    }
}

/// Why [`MockServer::start_with_client`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The mock could not listen on a loopback port.
    #[error("the mock could not start: {0}")]
    Bind(#[source] std::io::Error),
    /// The client for it could not be built.
    #[error("the mock's client could not be built: {0}")]
    Client(#[source] ConfigError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_helpers_client_is_accepted_by_its_own_mock_only() {
        let (server, client) = MockServer::start_with_client(MockConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let token = client.get_token("app", "org").await;
        assert!(token.is_ok(), "{token:?}");

        // The key of a client made for `server` was registered with `server` alone.
        let other = MockServer::start(MockConfig::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let crossed = server
            .client_builder()
            .env(other.env())
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let refused = crossed.get_token("app", "org").await;
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(
            other.requests().len(),
            1,
            "the request reached the other mock"
        );
    }
}
