//! [`CoboClient::send_request`]: a request built by hand, sent like a generated operation.

use progenitor_client::ResponseValue;
use serde::de::DeserializeOwned;

use crate::client::{CoboClient, typed_call};
use crate::error::Error;
use crate::executor::CallOptions;
use crate::runtime::{Hooks, Operation};

/// progenitor's error of an exchange whose error body is read as JSON.
type GenError = progenitor_client::Error<serde_json::Value>;

impl CoboClient {
    /// Sends `request`, built by hand (its method, a URL below this client's base URL, its
    /// headers and body bytes), as the operation `operation` of a spec: signed, verified and
    /// retried like a generated operation, with the Bearer token when `operation` takes one
    /// (and this client has a source, [`Self::with_bearer`]). `T` is the success answer's
    /// type (`serde_json::Value` for any); an error answer is typed like [`Self::call`]'s.
    /// For an operation no generated client holds (the CLI's `api` command).
    ///
    /// A request whose URL is not below the base URL (another scheme, host or port, a path
    /// outside the base URL's) is [`Error::InvalidRequest`], and nothing
    /// is sent: this client's signature and Bearer token go to its server only.
    pub async fn send_request<T: DeserializeOwned>(
        &self,
        request: reqwest::Request,
        operation: Operation,
    ) -> Result<T, Error> {
        check_below(self.env().base_url(), request.url())?;
        let hooks = self.hooks();
        let http = self.http();
        typed_call(
            exchange::<T>(&hooks, &http, request, operation),
            CallOptions::default(),
        )
        .await
    }
}

/// Whether `url` is below `base_url`: the same scheme, host and port, and a path that is the
/// base URL's or under it (segment by segment: `/v2x` is not under `/v2`). A `Url` has its
/// `.` and `..` segments (`%2e` too) resolved already.
fn check_below(base_url: &str, url: &reqwest::Url) -> Result<(), Error> {
    let base = reqwest::Url::parse(base_url)
        .map_err(|e| Error::InvalidRequest(format!("this client's base URL: {e}")))?;
    let prefix = base.path().trim_end_matches('/');
    let rest = url.path().strip_prefix(prefix);
    let below = rest.is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    let same_origin = url.scheme() == base.scheme()
        && url.host() == base.host()
        && url.port_or_known_default() == base.port_or_known_default();
    if same_origin && below {
        return Ok(());
    }
    // Origins and paths only: a URL's credentials or query are nobody's error message.
    let shown = |u: &reqwest::Url| {
        format!(
            "{}://{}{}{}",
            u.scheme(),
            u.host_str().unwrap_or_default(),
            u.port().map(|p| format!(":{p}")).unwrap_or_default(),
            u.path()
        )
    };
    Err(Error::InvalidRequest(format!(
        "{} is not below this client's base URL {}: its signature and token go there only",
        shown(url),
        shown(&base)
    )))
}

/// Sends `request` through `hooks` and reads the answer as the generated methods do: a 2XX
/// as `T`, a 4XX or 5XX as an error body.
pub(crate) async fn exchange<T: DeserializeOwned>(
    hooks: &Hooks,
    http: &reqwest::Client,
    request: reqwest::Request,
    operation: Operation,
) -> Result<ResponseValue<T>, GenError> {
    let result = hooks.exec(http, request, operation).await;
    Hooks::post::<serde_json::Value>(&result)?;
    let response = result.map_err(GenError::CommunicationError)?;
    match response.status().as_u16() {
        200..=299 => ResponseValue::from_response(response).await,
        400..=599 => Err(GenError::ErrorResponse(
            ResponseValue::from_response(response).await?,
        )),
        _ => Err(GenError::UnexpectedResponse(response)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use crate::runtime::Operation;
    use crate::signing::Ed25519Signer;
    use crate::{CoboClient, Env, Error};

    const OPERATION: Operation = Operation {
        id: "list_wallets",
        method: "GET",
        path: "/wallets",
        accepts_oauth2: false,
    };

    async fn answering() -> MockServer {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"ok": 1})))
            .mount(&server)
            .await;
        server
    }

    fn client_of(base_url: &str) -> CoboClient {
        CoboClient::builder()
            .env(Env::custom_unverified(base_url).unwrap_or_else(|e| panic!("{e}")))
            .signer(Arc::new(Ed25519Signer::generate()))
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    async fn send(client: &CoboClient, url: &str) -> Result<serde_json::Value, Error> {
        let url = reqwest::Url::parse(url).unwrap_or_else(|e| panic!("{e}"));
        let request = reqwest::Request::new(reqwest::Method::GET, url);
        client.send_request(request, OPERATION).await
    }

    #[tokio::test]
    async fn a_request_outside_the_base_url_is_refused_and_nothing_is_sent() {
        let ours = answering().await;
        let other = answering().await;
        let client = client_of(&format!("{}/v2", ours.uri()));
        let address = ours.address();
        let other_host = format!("http://localhost:{}/v2/wallets", address.port());
        let outside = [
            format!("{}/v2/wallets", other.uri()),
            other_host,
            format!("https://{address}/v2/wallets"),
            format!("{}/v3/wallets", ours.uri()),
            format!("{}/v2x/wallets", ours.uri()),
            format!("{}/wallets", ours.uri()),
            // Resolved by the URL parser to /admin.
            format!("{}/v2/%2e%2E/admin", ours.uri()),
        ];
        for url in &outside {
            let refused = send(&client, url).await;
            assert!(
                matches!(&refused, Err(Error::InvalidRequest(reason)) if reason.contains("not below")),
                "{url}: {refused:?}"
            );
        }
        for server in [&ours, &other] {
            let received = server.received_requests().await.unwrap_or_default();
            assert!(received.is_empty(), "sent: {received:?}");
        }
        // Below it, the request goes.
        let answer = send(&client, &format!("{}/v2/wallets?limit=2", ours.uri())).await;
        assert_eq!(answer.ok(), Some(serde_json::json!({"ok": 1})));
        assert_eq!(ours.received_requests().await.unwrap_or_default().len(), 1);
    }
}
