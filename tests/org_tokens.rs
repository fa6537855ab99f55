//! `OrgTokens`: one app, many organizations, against the embedded mock Cobo server.
//!
//! - 200 organizations with 5-second tokens and the background refresher for 30 s: a valid
//!   token at every moment sampled, every refresh token presented once, never more renewals in
//!   flight than configured.
//! - An organization that uninstalls the app: one clear error, no retry loop, the others
//!   unaffected.
//! - The install callback: `2` replaces the pair and the old refresh token is never presented
//!   again; unknown values are typed errors; a dropped callback still saves its grant.
//! - The directory store, idle organizations leaving memory, the per-organization Bearer.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cobo_oauth::bearer::BearerSource as _;
use cobo_oauth::signing::Clock as _;
use cobo_oauth::tokens::orgs::{
    DirectoryStore, InstallError, MemoryOrgStore, OrgBearer, OrgRefresher, OrgStore, OrgTokens,
    OrgTokensBuilder,
};
use cobo_oauth::tokens::{StoreError, StoreFuture, StoredToken, TokenStore};
use cobo_oauth::{CoboClient, Error, ExposeSecret as _};
use cobo_oauth_mock::{Fault, MockConfig, MockServer};
use cobo_oauth_tests::{Logs, mock_config};

const APP: &str = "portal-app";

async fn start(config: MockConfig) -> (Arc<MockServer>, CoboClient) {
    let (server, client) = MockServer::start_with_client(config).await.unwrap();
    (Arc::new(server), client)
}

/// [`start`] with access tokens that live `ttl`.
async fn start_with_ttl(ttl: Duration) -> (Arc<MockServer>, CoboClient) {
    start(MockConfig {
        access_token_ttl: ttl,
        ..mock_config()
    })
    .await
}

fn org(n: usize) -> String {
    format!("org-{n:04}")
}

/// Grants (install callback `1`) for `orgs` organizations, eight at a time.
async fn install_all(tokens: &OrgTokens, orgs: usize) {
    let installs = futures::stream::iter((0..orgs).map(|n| {
        let tokens = tokens.clone();
        async move { tokens.on_install(&org(n), 1).await }
    }));
    use futures::StreamExt as _;
    let outcomes: Vec<_> = installs.buffer_unordered(8).collect().await;
    for outcome in outcomes {
        outcome.unwrap();
    }
}

/// Grant requests the mock received for `org_id`.
fn grants_for(server: &MockServer, org_id: &str) -> usize {
    let query = format!("org_id={org_id}&");
    server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && format!("{}&", r.query).contains(&query))
        .count()
}

fn refreshes(server: &MockServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_orgs_with_five_second_tokens_stay_valid_under_the_refresher() {
    const ORGS: usize = 200;
    const IN_FLIGHT: usize = 4;
    let (server, client) = start(MockConfig {
        access_token_ttl: Duration::from_secs(5),
        max_recorded_requests: 100_000,
        ..mock_config()
    })
    .await;
    // Every token request takes a while, so that renewals really overlap.
    server.inject(Fault::Delay(Duration::from_millis(5)), usize::MAX);
    let store = Arc::new(MemoryOrgStore::default());
    let tokens = OrgTokens::builder(client, APP)
        .store(Arc::clone(&store) as Arc<dyn OrgStore>)
        .refresh_margin(Duration::from_secs(2))
        .max_concurrent_renewals(IN_FLIGHT)
        .build();
    install_all(&tokens, ORGS).await;
    // What follows is the refresher's alone: the installs' overlap does not count.
    server.reset_max_concurrent_token_requests();
    let refresher = tokens.spawn_refresher();

    // Samples never renew (no `access_token`, which would renew a stale token itself): they
    // read the token in memory (`status`) and the stored pair, so only the refresher keeps
    // them valid.
    let started = Instant::now();
    let mut samples = 0;
    while started.elapsed() < Duration::from_secs(30) {
        for n in 0..ORGS {
            let now = cobo_oauth::signing::SystemClock.now_millis();
            let status = tokens.status(&org(n)).await.unwrap();
            assert!(
                status.expires_at_ms.is_some_and(|expiry| expiry > now),
                "{} had an expired token in memory after {:?}: {status:?}",
                org(n),
                started.elapsed()
            );
            let stored = store.org(&org(n)).load().await.unwrap().unwrap();
            assert!(
                server.access_token_valid(stored.access_token.expose_secret()),
                "{} had an invalid stored token after {:?}",
                org(n),
                started.elapsed()
            );
            samples += 1;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Stopped, and its last renewals finished: the counts below are final.
    refresher.stop().await;

    let presentations = server.refresh_token_presentations();
    assert!(
        presentations.values().all(|&count| count == 1),
        "every refresh token presented exactly once"
    );
    // Tokens live 5 s and are renewed 2 to 3 s early, so every 2 to 3 s: about ten refreshes
    // per organization in 30 s, and none of them a fallback grant.
    let refreshed = refreshes(&server);
    assert!(refreshed >= ORGS * 9, "{refreshed} refreshes");
    assert_eq!(presentations.len(), refreshed);
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| r.method == "GET")
            .count(),
        ORGS,
        "one grant per organization, no recovery grant"
    );
    let max = server.max_concurrent_token_requests();
    assert!(
        (2..=IN_FLIGHT).contains(&max),
        "{max} token requests in flight at once (limit {IN_FLIGHT}; renewals should overlap)"
    );
    for status in tokens.statuses().await.unwrap() {
        assert_eq!(status.last_error, None, "{status:?}");
        assert!(status.last_renewal_ms.is_some() && !status.uninstalled);
    }
    eprintln!("{samples} samples, {refreshed} refreshes, at most {max} in flight");
}

/// Tokens that live 3 s under a 5 s margin, with the refresher and a caller every 2 s per
/// organization: each is renewed half-way through its life, not about once a second, and every
/// token handed out is valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_that_live_less_than_the_margin_are_renewed_half_way_through_their_life() {
    const ORGS: usize = 10;
    let (server, client) = start(MockConfig {
        access_token_ttl: Duration::from_secs(3),
        max_recorded_requests: 100_000,
        ..mock_config()
    })
    .await;
    let tokens = OrgTokens::builder(client, APP)
        .refresh_margin(Duration::from_secs(5))
        .build();
    install_all(&tokens, ORGS).await;
    let refresher = tokens.spawn_refresher();
    let callers: Vec<_> = (0..ORGS)
        .map(|n| {
            let (tokens, server) = (tokens.clone(), Arc::clone(&server));
            tokio::spawn(async move {
                let started = Instant::now();
                while started.elapsed() < Duration::from_secs(15) {
                    let token = tokens.access_token(&org(n)).await.unwrap();
                    assert!(
                        server.access_token_valid(token.expose_secret()),
                        "{} got an expired token after {:?}",
                        org(n),
                        started.elapsed()
                    );
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    refresher.stop().await;
    // Renewed every 1.5 s: about ten per organization in 15 s, plus its grant.
    let renewals = server.requests().len();
    assert!(
        renewals <= ORGS * 12,
        "{renewals} renewals of {ORGS} organizations in 15 s"
    );
    eprintln!("{renewals} renewals of {ORGS} organizations in 15 s");
    for n in 0..ORGS {
        let refreshes = server.refreshes_of(APP, &org(n));
        assert!(
            (1..=12).contains(&refreshes),
            "{} refreshed {refreshes} times in 15 s",
            org(n)
        );
    }
    assert_eq!(server.max_refresh_token_presentations(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uninstalled_org_gets_one_clear_error_and_the_others_go_on() {
    let (server, client) = start_with_ttl(Duration::from_secs(3)).await;
    let tokens = OrgTokens::builder(client, APP)
        .refresh_margin(Duration::from_secs(1))
        .build();
    install_all(&tokens, 5).await;
    let _refresher = tokens.spawn_refresher();
    let gone = org(2);
    server.uninstall(APP, &gone);

    // Its refresh is refused, then its fallback grant: reported, and left alone.
    tokio::time::timeout(Duration::from_secs(10), async {
        while !tokens.status(&gone).await.unwrap().uninstalled {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the uninstall was noticed");
    let grants = grants_for(&server, &gone);
    assert_eq!(grants, 2, "the install and one refused grant");
    let requests = server.requests().len();

    for _ in 0..3 {
        let error = tokens.access_token(&gone).await.unwrap_err();
        assert!(
            matches!(error, Error::ReauthorizationRequired { status: 400, .. }),
            "{error:?}"
        );
        assert!(error.is_permanent());
    }
    let status = tokens.status(&gone).await.unwrap();
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("re-authorization required")),
        "{status:?}"
    );
    // Two more token lifetimes: the others are refreshed, the uninstalled one never again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(grants_for(&server, &gone), 2, "no retry loop");
    assert!(
        server.requests().len() > requests,
        "the others were refreshed"
    );
    for n in [0, 1, 3, 4] {
        let token = tokens.access_token(&org(n)).await.unwrap();
        assert!(server.access_token_valid(token.expose_secret()));
        assert_eq!(tokens.status(&org(n)).await.unwrap().last_error, None);
    }
    assert_eq!(server.max_refresh_token_presentations(), 1);

    // Installing the app again brings it back.
    server.install(APP, &gone);
    tokens.on_install(&gone, "1").await.unwrap();
    let token = tokens.access_token(&gone).await.unwrap();
    assert!(server.access_token_valid(token.expose_secret()));
    assert!(!tokens.status(&gone).await.unwrap().uninstalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_changed_replaces_the_pair_and_the_old_refresh_token_is_never_presented() {
    let (server, client) = start_with_ttl(Duration::from_secs(2)).await;
    let store = Arc::new(MemoryOrgStore::default());
    let tokens = OrgTokens::builder(client, APP)
        .store(Arc::clone(&store) as Arc<dyn OrgStore>)
        .refresh_margin(Duration::from_millis(1_000))
        .build();
    let target = org(7);
    tokens.on_install(&target, 1).await.unwrap();
    let first = store.org(&target).load().await.unwrap().unwrap();
    assert_eq!(first.version, 1);

    tokens.on_install(&target, 2).await.unwrap();
    let second = store.org(&target).load().await.unwrap().unwrap();
    assert_eq!(second.version, 2);
    assert_ne!(
        second.refresh_token.expose_secret(),
        first.refresh_token.expose_secret()
    );
    assert_eq!(
        tokens.access_token(&target).await.unwrap().expose_secret(),
        second.access_token.expose_secret()
    );
    // Refreshes follow, from the new pair.
    let _refresher = tokens.spawn_refresher();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let presentations = server.refresh_token_presentations();
    assert!(
        !presentations.contains_key(first.refresh_token.expose_secret()),
        "the replaced refresh token was never presented"
    );
    assert_eq!(
        presentations.get(second.refresh_token.expose_secret()),
        Some(&1)
    );
    assert!(presentations.values().all(|&count| count == 1));
    assert!(store.org(&target).load().await.unwrap().unwrap().version > 2);
}

#[tokio::test]
async fn unknown_approval_results_are_typed_errors_and_send_nothing() {
    let (server, client) = start(mock_config()).await;
    let tokens = OrgTokens::builder(client, APP).build();
    for outcome in [
        tokens.on_install("org", 3).await,
        tokens.on_install("org", 0).await,
        tokens.on_install("org", "approved").await,
        tokens.on_install("org", "").await,
    ] {
        assert!(
            matches!(outcome, Err(InstallError::UnknownApprovalResult(_))),
            "{outcome:?}"
        );
    }
    assert!(matches!(
        tokens.on_install(" ", "1").await,
        Err(InstallError::MissingOrgId)
    ));
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_refused_install_saves_nothing() {
    let (server, client) = start(mock_config()).await;
    server.uninstall(APP, "forged");
    let store = Arc::new(MemoryOrgStore::default());
    let tokens = OrgTokens::builder(client, APP)
        .store(Arc::clone(&store) as Arc<dyn OrgStore>)
        .build();
    let outcome = tokens.on_install("forged", 1).await;
    assert!(
        matches!(
            outcome,
            Err(InstallError::Grant(Error::ReauthorizationRequired { .. }))
        ),
        "{outcome:?}"
    );
    assert!(store.org("forged").load().await.unwrap().is_none());
    assert!(store.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_dropped_install_callback_still_saves_its_grant() {
    let (server, client) = start(mock_config()).await;
    let store = Arc::new(MemoryOrgStore::default());
    let tokens = OrgTokens::builder(client, APP)
        .store(Arc::clone(&store) as Arc<dyn OrgStore>)
        .build();
    // Cobo issues the grant, but the answer comes after the caller gave up.
    server.inject(Fault::DelayAnswer(Duration::from_millis(300)), 1);
    let dropped = tokio::time::timeout(
        Duration::from_millis(50),
        tokens.on_install("org-dropped", 1),
    )
    .await;
    assert!(dropped.is_err(), "the caller gave up");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let saved = store.org("org-dropped").load().await.unwrap().unwrap();
    let token = tokens.access_token("org-dropped").await.unwrap();
    assert_eq!(token.expose_secret(), saved.access_token.expose_secret());
    assert_eq!(grants_for(&server, "org-dropped"), 1, "no second grant");
}

#[tokio::test]
async fn a_dropped_caller_never_costs_a_second_refresh() {
    let (server, client) = start_with_ttl(Duration::from_secs(20)).await;
    let tokens = OrgTokens::builder(client, APP)
        .refresh_margin(Duration::from_secs(19))
        .build();
    tokens.on_install("org-a", 1).await.unwrap();
    // Now within the margin: stale (a new token is fresh for a second).
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    server.inject(Fault::DelayAnswer(Duration::from_millis(300)), 1);
    let dropped =
        tokio::time::timeout(Duration::from_millis(50), tokens.access_token("org-a")).await;
    assert!(dropped.is_err());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let token = tokens.access_token("org-a").await.unwrap();
    assert!(server.access_token_valid(token.expose_secret()));
    assert_eq!(refreshes(&server), 1);
    assert_eq!(server.max_refresh_token_presentations(), 1);
}

#[tokio::test]
async fn the_directory_store_keeps_one_private_file_per_org() {
    let (server, client) = start(mock_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tokens");
    let builder = |client: CoboClient| -> OrgTokensBuilder {
        OrgTokens::builder(client, APP).store(Arc::new(DirectoryStore::new(&root)))
    };
    let tokens = builder(client.clone()).build();
    let orgs = ["6f1c3b9e-0d4b-4a57-9a0e-3f1d2c4b5a69", "../escape", "a b/c"];
    for org_id in orgs {
        tokens.on_install(org_id, 1).await.unwrap();
    }
    let listed: HashSet<String> = DirectoryStore::new(&root)
        .list()
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(listed, orgs.iter().map(|o| (*o).to_owned()).collect());
    let files: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    assert_eq!(files.len(), 3, "one file per organization, no leftovers");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for file in &files {
            assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(
            std::fs::metadata(&root).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    assert!(!dir.path().join("escape.json").exists());

    // Another process (new tokens on the same directory) uses the pairs without a request.
    let requests = server.requests().len();
    let again = builder(client).build();
    for org_id in orgs {
        let token = again.access_token(org_id).await.unwrap();
        assert!(server.access_token_valid(token.expose_secret()));
    }
    assert_eq!(server.requests().len(), requests);
    let statuses = again.statuses().await.unwrap();
    assert_eq!(statuses.len(), 3);
    assert!(statuses.iter().all(|s| s.version == Some(1)));
}

#[tokio::test]
async fn idle_orgs_leave_memory_and_come_back_from_the_store() {
    let (server, client) = start(mock_config()).await;
    // Idleness on a clock the test moves: no real sleep to race a loaded machine.
    let clock = Arc::new(cobo_oauth_tests::ShiftedClock::default());
    let tokens = OrgTokens::builder(client, APP)
        .clock(Arc::clone(&clock) as Arc<dyn cobo_oauth::signing::Clock>)
        .idle_after(Duration::from_secs(60))
        .build();
    install_all(&tokens, 20).await;
    let busy = tokens.access_token(&org(0)).await.unwrap();
    assert_eq!(tokens.cached_orgs(), 20);
    clock.set_offset_ms(30_000);
    assert_eq!(tokens.drop_idle(), 0, "not idle yet");
    clock.set_offset_ms(61_000);
    tokens.access_token(&org(0)).await.unwrap(); // used: stays
    assert_eq!(tokens.drop_idle(), 19);
    assert_eq!(tokens.cached_orgs(), 1);
    let requests = server.requests().len();
    for n in 0..20 {
        let token = tokens.access_token(&org(n)).await.unwrap();
        assert!(server.access_token_valid(token.expose_secret()));
    }
    assert_eq!(
        server.requests().len(),
        requests,
        "read back from the store"
    );
    assert_eq!(
        tokens.access_token(&org(0)).await.unwrap().expose_secret(),
        busy.expose_secret()
    );
}

#[tokio::test]
async fn each_org_bearer_is_that_orgs_token_and_an_expired_one_is_renewed() {
    let (server, client) = start(mock_config()).await;
    let tokens = OrgTokens::builder(client.clone(), APP).build();
    install_all(&tokens, 2).await;
    let (a, b) = (
        OrgBearer::new(tokens.clone(), org(0)),
        OrgBearer::new(tokens.clone(), org(1)),
    );
    let token_a = a.token().await.unwrap();
    let token_b = b.token().await.unwrap();
    assert_ne!(token_a.expose_secret(), token_b.expose_secret());
    assert_eq!(
        token_a.expose_secret(),
        tokens.access_token(&org(0)).await.unwrap().expose_secret()
    );
    // Cobo refused a's token (error 1000): a is renewed, b is untouched.
    a.expired(&token_a);
    let renewed = a.token().await.unwrap();
    assert_ne!(renewed.expose_secret(), token_a.expose_secret());
    assert!(server.access_token_valid(renewed.expose_secret()));
    assert_eq!(
        b.token().await.unwrap().expose_secret(),
        token_b.expose_secret()
    );
    let for_org = client.for_org(&tokens, org(1));
    assert!(format!("{for_org:?}").contains("bearer: true"));
    let shown = format!("{tokens:?}");
    assert!(shown.contains("cached_orgs: 2"), "{shown}");
    assert!(!shown.contains(token_b.expose_secret()));
}

#[tokio::test]
async fn an_uninstall_is_logged_once_with_its_org_id_and_no_token() {
    let (logs, _guard) = Logs::capture(tracing::Level::INFO);

    let (server, client) = start(mock_config()).await;
    let store = Arc::new(MemoryOrgStore::default());
    let tokens = OrgTokens::builder(client, APP)
        .store(Arc::clone(&store) as Arc<dyn OrgStore>)
        .build();
    tokens.on_install("org-gone", 1).await.unwrap();
    let pair = store.org("org-gone").load().await.unwrap().unwrap();
    server.uninstall(APP, "org-gone");
    // Cobo refuses the token (error 1000): the renewal finds the app uninstalled.
    assert!(tokens.invalidate("org-gone", &pair.access_token));
    for _ in 0..3 {
        let error = tokens.access_token("org-gone").await.unwrap_err();
        assert!(matches!(error, Error::ReauthorizationRequired { .. }));
    }

    let text = logs.text();
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
    let reports: Vec<&&str> = errors
        .iter()
        .filter(|l| l.contains("uninstalled the app"))
        .collect();
    assert_eq!(reports.len(), 1, "{text}");
    assert!(reports[0].contains("org_id=\"org-gone\""), "{text}");
    // The manager's own events carry the organization too (through their span).
    let refused: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("must authorize the app again"))
        .collect();
    assert!(
        !refused.is_empty() && refused.iter().all(|l| l.contains("org_id=\"org-gone\"")),
        "{text}"
    );
    for secret in [
        pair.access_token.expose_secret(),
        pair.refresh_token.expose_secret(),
    ] {
        assert!(!text.contains(secret), "a token was logged");
    }
    assert_eq!(
        grants_for(&server, "org-gone"),
        2,
        "the install and one refused grant"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_pauses_every_renewal_then_they_resume() {
    rate_limited_renewals_pause(
        r#"{"error_code":2026,"error_message":"too many requests","error_id":"e"}"#,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_whatever_its_body_pauses_every_renewal() {
    // Neither Cobo's nor OAuth's error shape: a gateway's page.
    rate_limited_renewals_pause("Too Many Requests").await;
}

/// The next three token requests are refused with HTTP 429 and `body`: the refresher pauses
/// every renewal, then they resume.
async fn rate_limited_renewals_pause(body: &str) {
    let (server, client) = start_with_ttl(Duration::from_secs(3)).await;
    let tokens = OrgTokens::builder(client, APP)
        .refresh_margin(Duration::from_secs(1))
        .build();
    install_all(&tokens, 20).await;
    let installed = server.requests().len();
    server.inject(
        Fault::Status {
            status: 429,
            body: body.to_owned(),
            headers: Vec::new(),
        },
        3,
    );
    let refresher = tokens.spawn_refresher();
    tokio::time::sleep(Duration::from_secs(6)).await;
    drop(refresher);

    let requests = server.requests();
    let after: Vec<u64> = requests[installed..]
        .iter()
        .map(|r| r.received_at_ms)
        .collect();
    let first_refused = after[0];
    // The renewals already holding a permit (at most the 4 allowed, and one more waiting for a
    // permit) may still send theirs; then nothing for the pause (at least 1 s). Without the
    // pause, the other organizations (all due together) would be renewed in that time. Counted,
    // not timed to a few milliseconds, so a loaded machine cannot make it flake.
    let during_pause = after
        .iter()
        .skip(1)
        .filter(|&&at| at < first_refused + 900)
        .count();
    assert!(
        during_pause <= 5,
        "{during_pause} during the pause: {after:?}"
    );
    for n in 0..20 {
        let token = tokens.access_token(&org(n)).await.unwrap();
        assert!(
            server.access_token_valid(token.expose_secret()),
            "{}",
            org(n)
        );
    }
    assert_eq!(server.max_refresh_token_presentations(), 1);

    // Dropped, the refresher renews nothing more.
    let seen = server.requests().len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(server.requests().len(), seen);
}

fn now_ms() -> u64 {
    cobo_oauth::signing::SystemClock.now_millis()
}

/// Cobo's rate limit error, as a 429.
fn rate_limited(headers: Vec<(String, String)>) -> Fault {
    Fault::Status {
        status: 429,
        body: r#"{"error_code":2026,"error_message":"too many requests","error_id":"e"}"#
            .to_owned(),
        headers,
    }
}

/// A 3 s burst of 429s while 40 organizations are renewed: one pause per episode, not one per
/// refused request, and no organization's own backoff grown by it, so renewals resume (and
/// every organization is valid again) within 10 s of its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewals_resume_within_ten_seconds_of_a_burst_of_rate_limits() {
    const ORGS: usize = 40;
    let (server, client) = start(MockConfig {
        access_token_ttl: Duration::from_secs(4),
        max_recorded_requests: 100_000,
        ..mock_config()
    })
    .await;
    let tokens = OrgTokens::builder(client, APP)
        .refresh_margin(Duration::from_secs(2))
        .max_concurrent_renewals(8)
        .build();
    install_all(&tokens, ORGS).await;
    let refresher = tokens.spawn_refresher();
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.inject(rate_limited(Vec::new()), usize::MAX);
    let burst_started = now_ms();
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.clear_faults();
    let burst_ended = now_ms();
    let refused = server
        .requests()
        .iter()
        .filter(|r| r.received_at_ms >= burst_started)
        .count();
    assert!(refused > 0, "the burst refused nothing");
    tokio::time::sleep(Duration::from_secs(10)).await;

    let resumed = server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.received_at_ms > burst_ended)
        .map(|r| r.received_at_ms)
        .min();
    assert!(
        resumed.is_some_and(|at| at <= burst_ended + 10_000),
        "renewals resumed {:?} ms after the burst ended",
        resumed.map(|at| at - burst_ended)
    );
    eprintln!(
        "{refused} requests during the burst; renewals resumed {:?} ms after it",
        resumed.map(|at| at - burst_ended)
    );
    let now = now_ms();
    for n in 0..ORGS {
        let status = tokens.status(&org(n)).await.unwrap();
        assert!(
            status.expires_at_ms.is_some_and(|expiry| expiry > now),
            "{} still had an expired token 10 s after the burst: {status:?}",
            org(n)
        );
    }
    refresher.stop().await;
    assert_eq!(server.max_refresh_token_presentations(), 1);
}

/// Cobo's `Retry-After` sets the pause: for its length, a caller whose token is inside the
/// margin but unexpired gets that token, and nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_rate_limit_pause_an_unexpired_token_is_handed_out_without_renewing() {
    let (server, client) = start_with_ttl(Duration::from_secs(6)).await;
    let tokens = OrgTokens::builder(client, APP)
        .refresh_margin(Duration::from_secs(3))
        .build();
    install_all(&tokens, 2).await;
    let granted = tokens.access_token(&org(1)).await.unwrap();
    // Inside the margin, 2.5 s before expiry.
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    server.inject(
        rate_limited(vec![("Retry-After".to_owned(), "5".to_owned())]),
        1,
    );
    let error = tokens.access_token(&org(0)).await.unwrap_err();
    assert_eq!(
        error.retry_after(),
        Some(Duration::from_secs(5)),
        "{error:?}"
    );
    let sent = server.requests().len();
    // Past a 1 s pause, within the 5 s Cobo asked for.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let token = tokens.access_token(&org(1)).await.unwrap();
    assert_eq!(token.expose_secret(), granted.expose_secret());
    assert!(server.access_token_valid(token.expose_secret()));
    assert_eq!(
        server.requests().len(),
        sent,
        "nothing sent during the pause"
    );
}

/// 1,000 forged install callbacks (org ids Cobo does not know) and 200 for one real
/// organization, every caller gone after 50 ms, while 100 real organizations are renewed: the
/// installs' own budget bounds what is sent for them and never delays a renewal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_install_callbacks_is_bounded_and_never_delays_renewals() {
    const ORGS: usize = 100;
    const FORGED: usize = 1_000;
    const BUDGET: usize = 2 + 32;
    let (server, client) = start(MockConfig {
        access_token_ttl: Duration::from_secs(5),
        max_recorded_requests: 100_000,
        ..mock_config()
    })
    .await;
    let forged = |n: usize| format!("forged-{n:04}");
    for n in 0..FORGED {
        server.uninstall(APP, &forged(n));
    }
    let tokens = OrgTokens::builder(client, APP)
        .refresh_margin(Duration::from_secs(2))
        .build();
    install_all(&tokens, ORGS).await;
    let refresher = tokens.spawn_refresher();
    let real = org(0);
    let real_grants_before = grants_for(&server, &real);
    // Every request takes a while, as over a real network.
    server.inject(Fault::Delay(Duration::from_millis(20)), usize::MAX);

    // The callbacks all arrive at once: each waits for the start, held until all are spawned.
    let start = Arc::new(tokio::sync::RwLock::new(()));
    let held = Arc::clone(&start).write_owned().await;
    let mut callbacks = Vec::new();
    for n in 0..FORGED + 200 {
        let (tokens, start) = (tokens.clone(), Arc::clone(&start));
        let org_id = if n % 6 == 5 { real.clone() } else { forged(n) };
        callbacks.push(tokio::spawn(async move {
            let _started = start.read().await;
            let answer =
                tokio::time::timeout(Duration::from_millis(50), tokens.on_install(&org_id, 1))
                    .await;
            matches!(answer, Ok(Err(InstallError::Busy)))
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(held);
    let flood_started = Instant::now();
    let mut slowest = Duration::ZERO;
    while flood_started.elapsed() < Duration::from_secs(8) {
        let now = now_ms();
        for n in 0..ORGS {
            let status = tokens.status(&org(n)).await.unwrap();
            assert!(
                status.expires_at_ms.is_some_and(|expiry| expiry > now),
                "{} had an expired token {:?} into the flood: {status:?}",
                org(n),
                flood_started.elapsed()
            );
        }
        // A caller's renewal of a real organization (its token refused, say).
        let n = 1 + flood_started.elapsed().as_millis() as usize % (ORGS - 1);
        let stale = tokens.access_token(&org(n)).await.unwrap();
        tokens.invalidate(&org(n), &stale);
        let asked = Instant::now();
        let renewed = tokens.access_token(&org(n)).await.unwrap();
        slowest = slowest.max(asked.elapsed());
        assert!(server.access_token_valid(renewed.expose_secret()));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut busy = 0;
    for callback in callbacks {
        busy += usize::from(callback.await.unwrap());
    }
    refresher.stop().await;

    assert!(
        slowest < Duration::from_secs(1),
        "a caller's renewal took {slowest:?}"
    );
    let forged_grants = server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.query.contains("org_id=forged-"))
        .count();
    assert!(
        forged_grants <= BUDGET,
        "{forged_grants} grants sent for forged organizations"
    );
    let real_grants = grants_for(&server, &real) - real_grants_before;
    assert!(
        real_grants <= 3,
        "the real organization was granted {real_grants} times"
    );
    assert!(
        busy >= FORGED - BUDGET,
        "only {busy} callbacks answered Busy"
    );
    let in_memory = tokens.cached_orgs();
    assert!(
        in_memory <= ORGS + 32,
        "{in_memory} organizations in memory afterwards"
    );
    assert_eq!(server.max_refresh_token_presentations(), 1);
    eprintln!(
        "{forged_grants} forged grants, {real_grants} real grants, {busy} busy, slowest caller renewal {slowest:?}, {in_memory} in memory"
    );
}

/// Callbacks for one organization that arrive while its grant is sent share one grant that
/// starts after the last of them: none is lost, and three cost one grant, not three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_for_one_org_during_its_grant_share_one_grant_after_it() {
    let (server, client) = start(mock_config()).await;
    let tokens = OrgTokens::builder(client, APP).build();
    tokens.on_install("org-a", 1).await.unwrap();
    let before = grants_for(&server, "org-a");
    server.inject(Fault::Delay(Duration::from_millis(500)), 1);
    let first = {
        let tokens = tokens.clone();
        tokio::spawn(async move { tokens.on_install("org-a", 1).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let later: Vec<_> = (0..3)
        .map(|_| {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.on_install("org-a", 2).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let last_callback = now_ms();
    first.await.unwrap().unwrap();
    for callback in later {
        callback.await.unwrap().unwrap();
    }
    let grants: Vec<u64> = server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.query.contains("org_id=org-a"))
        .map(|r| r.received_at_ms)
        .skip(before)
        .collect();
    assert_eq!(
        grants.len(),
        2,
        "the first grant and one shared by the three after it"
    );
    assert!(
        grants[1] >= last_callback,
        "the shared grant started after the last callback"
    );
}

/// Beyond the install budget, a callback is answered at once with `Busy` and nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_beyond_the_install_budget_is_busy_at_once() {
    let (server, client) = start(mock_config()).await;
    let tokens = OrgTokens::builder(client, APP)
        .max_concurrent_installs(1)
        .max_queued_installs(1)
        .build();
    server.inject(Fault::Delay(Duration::from_millis(500)), 2);
    let admitted: Vec<_> = ["org-a", "org-b"]
        .into_iter()
        .map(|org_id| {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.on_install(org_id, 1).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let asked = Instant::now();
    let busy = tokens.on_install("org-c", 1).await;
    assert!(matches!(busy, Err(InstallError::Busy)), "{busy:?}");
    assert!(asked.elapsed() < Duration::from_millis(100));
    for install in admitted {
        install.await.unwrap().unwrap();
    }
    assert_eq!(grants_for(&server, "org-c"), 0);
    // Once they are done, there is room again.
    tokens.on_install("org-c", 1).await.unwrap();
}

#[tokio::test]
async fn an_empty_org_id_is_a_typed_error_and_sends_nothing() {
    let (server, client) = start(mock_config()).await;
    let tokens = OrgTokens::builder(client, APP).build();
    let error = tokens.access_token("").await.unwrap_err();
    assert!(matches!(error, Error::InvalidRequest(_)), "{error:?}");
    assert!(server.requests().is_empty());
    assert!(!tokens.status("").await.unwrap().uninstalled);
}

#[tokio::test]
async fn a_manager_that_remembers_an_unknown_refresh_outcome_stays_until_it_recovered() {
    let (server, client) = start(mock_config()).await;
    let store = Arc::new(MemoryOrgStore::default());
    // Idleness on a clock the test moves: no real sleep to race a loaded machine.
    let clock = Arc::new(cobo_oauth_tests::ShiftedClock::default());
    let tokens = OrgTokens::builder(client, APP)
        .store(Arc::clone(&store) as Arc<dyn OrgStore>)
        .clock(Arc::clone(&clock) as Arc<dyn cobo_oauth::signing::Clock>)
        .idle_after(Duration::from_secs(60))
        .build();
    tokens.on_install("org-a", 1).await.unwrap();
    tokens.on_install("org-b", 1).await.unwrap();
    let pair = store.org("org-a").load().await.unwrap().unwrap();
    // Cobo rotates org-a's refresh token, but the answer never arrives.
    assert!(tokens.invalidate("org-a", &pair.access_token));
    server.inject(Fault::DropConnection, 1);
    let error = tokens.access_token("org-a").await.unwrap_err();
    assert!(
        matches!(error, Error::RefreshOutcomeUnknown(_)),
        "{error:?}"
    );

    clock.set_offset_ms(61_000);
    // org-b is idle and settled; org-a must remember that its refresh token was sent.
    assert_eq!(tokens.drop_idle(), 1);
    assert_eq!(tokens.cached_orgs(), 1);
    let token = tokens.access_token("org-a").await.unwrap();
    assert!(server.access_token_valid(token.expose_secret()));
    assert_eq!(
        server.max_refresh_token_presentations(),
        1,
        "never sent again"
    );
    assert_eq!(
        grants_for(&server, "org-a"),
        2,
        "recovered with a new grant"
    );
    // Recovered: the pair of unknown outcome is replaced, so org-a may leave memory too.
    clock.set_offset_ms(122_000);
    assert_eq!(tokens.drop_idle(), 1);
    assert_eq!(tokens.cached_orgs(), 0);
    let again = tokens.access_token("org-a").await.unwrap();
    assert_eq!(
        again.expose_secret(),
        token.expose_secret(),
        "from the store"
    );
    assert_eq!(server.max_refresh_token_presentations(), 1);
}

#[tokio::test]
async fn an_install_whose_grant_fails_leaves_no_entry_but_a_served_org_keeps_its_own() {
    let (server, client) = start(mock_config()).await;
    let tokens = OrgTokens::builder(client, APP).build();
    tokens.on_install("served", 1).await.unwrap();
    let failure = || Fault::Status {
        status: 500,
        body: r#"{"error_code":1000,"error_message":"internal"}"#.to_owned(),
        headers: Vec::new(),
    };
    // A new organization's install fails (neither a refusal nor an uninstall): nothing stays.
    server.inject(failure(), 1);
    let failed = tokens.on_install("new-org", 1).await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(tokens.cached_orgs(), 1);
    // A served organization's failed re-install keeps its entry and its pair.
    server.inject(failure(), 1);
    assert!(tokens.on_install("served", 1).await.is_err());
    assert_eq!(tokens.cached_orgs(), 1);
    let token = tokens.access_token("served").await.unwrap();
    assert!(server.access_token_valid(token.expose_secret()));
}

#[tokio::test]
async fn a_grants_429_comes_back_at_once_instead_of_being_retried_with_a_permit_held() {
    let (server, client) = start(mock_config()).await;
    let tokens = OrgTokens::builder(client, APP).build();
    server.inject(
        Fault::Status {
            status: 429,
            body: "Too Many Requests".to_owned(),
            headers: Vec::new(),
        },
        1,
    );
    // The client's own policy retries an idempotent GET on 429; the token managers' grants
    // leave that to the shared rate-limit pause.
    let limited = tokens.on_install("org-a", 1).await;
    assert!(limited.is_err(), "{limited:?}");
    assert_eq!(grants_for(&server, "org-a"), 1, "sent once, not retried");
}

#[tokio::test]
async fn a_grant_refused_for_the_key_or_nonce_is_not_an_uninstall() {
    let (server, client) = start(mock_config()).await;
    let tokens = OrgTokens::builder(client, APP).build();
    // A 401 (the key, signature or nonce refused) says nothing about the installation.
    server.inject(
        Fault::Status {
            status: 401,
            body: r#"{"error":"invalid_request","error_description":"nonce already used"}"#
                .to_owned(),
            headers: Vec::new(),
        },
        1,
    );
    let refused = tokens.on_install("org-a", 1).await;
    assert!(
        matches!(
            refused,
            Err(InstallError::Grant(Error::OAuth { status: 401, .. }))
        ),
        "{refused:?}"
    );
    // No uninstall mark; and no entry stays behind for an install that failed (the callback's
    // caller had the error), so neither does an error in the status.
    let status = tokens.status("org-a").await.unwrap();
    assert!(
        !status.uninstalled && status.last_error.is_none(),
        "{status:?}"
    );
    assert_eq!(tokens.cached_orgs(), 0);
    // The next call simply tries again.
    let token = tokens.access_token("org-a").await.unwrap();
    assert!(server.access_token_valid(token.expose_secret()));
    assert_eq!(tokens.status("org-a").await.unwrap().last_error, None);
}

#[tokio::test]
async fn another_replica_recovers_as_soon_as_one_of_them_gets_the_reinstall() {
    let (server, client) = start(mock_config()).await;
    let store: Arc<dyn OrgStore> = Arc::new(MemoryOrgStore::default());
    let replica = |client: CoboClient| {
        OrgTokens::builder(client, APP)
            .store(Arc::clone(&store))
            .build()
    };
    let (a, b) = (replica(client.clone()), replica(client));
    a.on_install("org-x", 1).await.unwrap();
    let pair = store.org("org-x").load().await.unwrap().unwrap();
    b.access_token("org-x").await.unwrap();
    server.uninstall(APP, "org-x");
    // b finds the uninstall (its token is refused with error 1000, its grant refused).
    assert!(b.invalidate("org-x", &pair.access_token));
    let error = b.access_token("org-x").await.unwrap_err();
    assert!(
        matches!(error, Error::ReauthorizationRequired { .. }),
        "{error:?}"
    );
    assert!(b.status("org-x").await.unwrap().uninstalled);
    let grants = grants_for(&server, "org-x");

    // The organization installs the app again; the callback reaches a only.
    server.install(APP, "org-x");
    a.on_install("org-x", 1).await.unwrap();
    assert_eq!(grants_for(&server, "org-x"), grants + 1);
    // b takes the new pair from the shared store, without a grant of its own.
    let token = b.access_token("org-x").await.unwrap();
    assert!(server.access_token_valid(token.expose_secret()));
    assert!(!b.status("org-x").await.unwrap().uninstalled);
    assert_eq!(grants_for(&server, "org-x"), grants + 1);
}

#[tokio::test]
async fn a_refusal_expires_and_the_org_is_asked_about_again() {
    let (server, client) = start(mock_config()).await;
    let clock = Arc::new(cobo_oauth_tests::ShiftedClock::default());
    let tokens = OrgTokens::builder(client, APP)
        .clock(Arc::clone(&clock) as Arc<dyn cobo_oauth::signing::Clock>)
        .uninstall_recheck_after(Duration::from_secs(600))
        .build();
    tokens.on_install("org-x", 1).await.unwrap();
    server.uninstall(APP, "org-x");
    let pair = tokens.access_token("org-x").await.unwrap();
    assert!(tokens.invalidate("org-x", &pair));
    assert!(tokens.access_token("org-x").await.is_err());
    // Installed again, but the install callback was lost.
    server.install(APP, "org-x");
    let grants = grants_for(&server, "org-x");
    clock.set_offset_ms(599_000);
    assert!(
        tokens.access_token("org-x").await.is_err(),
        "still standing"
    );
    assert_eq!(grants_for(&server, "org-x"), grants, "nothing sent");
    clock.set_offset_ms(601_000);
    let token = tokens.access_token("org-x").await.unwrap();
    assert!(server.access_token_valid(token.expose_secret()));
    assert_eq!(grants_for(&server, "org-x"), grants + 1, "one new grant");
    assert!(!tokens.status("org-x").await.unwrap().uninstalled);
}

#[tokio::test]
async fn a_refused_grant_that_does_not_mean_an_uninstall_is_retried() {
    let (server, client) = start(mock_config()).await;
    let tokens = OrgTokens::builder(client, APP).build();
    server.inject(
        Fault::Status {
            status: 400,
            body: r#"{"error":"invalid_request","error_description":"try again"}"#.to_owned(),
            headers: Vec::new(),
        },
        1,
    );
    let refused = tokens.on_install("org-a", 1).await;
    assert!(
        matches!(
            refused,
            Err(InstallError::Grant(Error::ReauthorizationRequired {
                status: 400,
                ..
            }))
        ),
        "{refused:?}"
    );
    assert!(!tokens.status("org-a").await.unwrap().uninstalled);
    let token = tokens.access_token("org-a").await.unwrap();
    assert!(server.access_token_valid(token.expose_secret()));
}

/// An org store whose saves fail while `failing` is set, and loads while `failing_loads` is.
#[derive(Debug, Default)]
struct FailingSaves {
    inner: MemoryOrgStore,
    failing: Arc<AtomicBool>,
    failing_loads: Arc<AtomicBool>,
}

#[derive(Debug)]
struct FailingSave {
    inner: Arc<dyn TokenStore>,
    failing: Arc<AtomicBool>,
    failing_loads: Arc<AtomicBool>,
}

fn disk_error<T: Send + 'static>() -> StoreFuture<'static, T> {
    Box::pin(async {
        Err(StoreError::Io {
            path: "failing".to_owned(),
            reason: "disk full".to_owned(),
        })
    })
}

impl OrgStore for FailingSaves {
    fn org(&self, org_id: &str) -> Arc<dyn TokenStore> {
        Arc::new(FailingSave {
            inner: self.inner.org(org_id),
            failing: Arc::clone(&self.failing),
            failing_loads: Arc::clone(&self.failing_loads),
        })
    }
    fn list(&self) -> StoreFuture<'_, Vec<String>> {
        self.inner.list()
    }
}

impl TokenStore for FailingSave {
    fn load(&self) -> StoreFuture<'_, Option<StoredToken>> {
        if self.failing_loads.load(Ordering::SeqCst) {
            return disk_error();
        }
        self.inner.load()
    }
    fn save<'a>(&'a self, token: &'a StoredToken) -> StoreFuture<'a, ()> {
        if self.failing.load(Ordering::SeqCst) {
            return disk_error();
        }
        self.inner.save(token)
    }
}

/// Tokens on a store whose saves fail, with a refresh whose new pair could not be saved.
async fn with_an_unsaved_pair() -> (Arc<MockServer>, Arc<FailingSaves>, OrgTokens, OrgRefresher) {
    let (server, client) = start(mock_config()).await;
    let store = Arc::new(FailingSaves::default());
    let tokens = OrgTokens::builder(client, APP)
        .store(Arc::clone(&store) as Arc<dyn OrgStore>)
        .build();
    tokens.on_install("org-a", 1).await.unwrap();
    let refresher = tokens.spawn_refresher();
    // Cobo refuses the token (error 1000): the refresh rotates the pair, the save fails.
    store.failing.store(true, Ordering::SeqCst);
    let token = tokens.access_token("org-a").await.unwrap();
    assert!(tokens.invalidate("org-a", &token));
    let error = tokens.access_token("org-a").await.unwrap_err();
    assert!(matches!(error, Error::Store(_)), "{error:?}");
    assert_eq!(store.org("org-a").load().await.unwrap().unwrap().version, 1);
    (server, store, tokens, refresher)
}

#[tokio::test]
async fn stopping_the_refresher_saves_a_pair_whose_save_had_failed() {
    let (server, store, _tokens, refresher) = with_an_unsaved_pair().await;
    store.failing.store(false, Ordering::SeqCst);
    refresher.stop().await;
    let saved = store.org("org-a").load().await.unwrap().unwrap();
    assert_eq!(saved.version, 2, "the rotated pair reached the store");
    assert!(server.access_token_valid(saved.access_token.expose_secret()));
    assert_eq!(server.max_refresh_token_presentations(), 1);
}

#[tokio::test]
async fn stopping_the_refresher_reports_a_pair_it_still_cannot_save() {
    let (logs, _guard) = Logs::capture(tracing::Level::INFO);
    let (_server, store, _tokens, refresher) = with_an_unsaved_pair().await;
    let started = Instant::now();
    refresher.stop_within(Duration::from_millis(500)).await;
    assert!(started.elapsed() < Duration::from_secs(5), "bounded");
    let text = logs.text();
    let reports: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("could not be saved"))
        .collect();
    assert_eq!(reports.len(), 1, "{text}");
    assert!(reports[0].contains("org_id=\"org-a\""), "{text}");
    let kept = store.inner.org("org-a").load().await.unwrap().unwrap();
    assert!(!text.contains(kept.refresh_token.expose_secret()));
}

#[tokio::test]
async fn the_directory_store_keeps_ids_that_differ_in_case_apart_and_refuses_overlong_ids() {
    let (server, client) = start(mock_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let tokens = OrgTokens::builder(client, APP)
        .store(Arc::new(DirectoryStore::new(dir.path())))
        .build();
    tokens.on_install("ABC", 1).await.unwrap();
    tokens.on_install("abc", 1).await.unwrap();
    let names: HashSet<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_lowercase())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "two files even where case is ignored: {names:?}"
    );

    let requests = server.requests().len();
    let long = "x".repeat(300);
    let refused = tokens.on_install(&long, 1).await;
    assert!(
        matches!(refused, Err(InstallError::Grant(Error::InvalidRequest(_)))),
        "{refused:?}"
    );
    let error = tokens.access_token(&long).await.unwrap_err();
    assert!(matches!(error, Error::InvalidRequest(_)), "{error:?}");
    assert_eq!(server.requests().len(), requests, "nothing sent");
}

#[tokio::test]
async fn a_reinstall_whose_answer_is_unusable_but_saved_clears_the_uninstall() {
    let (server, client) = start(mock_config()).await;
    let store = Arc::new(FailingSaves::default());
    let tokens = OrgTokens::builder(client, APP)
        .store(Arc::clone(&store) as Arc<dyn OrgStore>)
        .build();
    tokens.on_install("org-x", 1).await.unwrap();
    server.uninstall(APP, "org-x");
    let token = tokens.access_token("org-x").await.unwrap();
    assert!(tokens.invalidate("org-x", &token));
    assert!(tokens.access_token("org-x").await.is_err());
    assert!(tokens.status("org-x").await.unwrap().uninstalled);

    // Installed again: the grant's answer has no expires_in, but its pair is saved.
    server.install(APP, "org-x");
    server.inject(Fault::OmitFields(vec!["expires_in".to_owned()]), 1);
    let outcome = tokens.on_install("org-x", 1).await;
    assert!(
        matches!(outcome, Err(InstallError::Grant(Error::InvalidBody { .. }))),
        "{outcome:?}"
    );
    let saved = store.org("org-x").load().await.unwrap().unwrap();
    assert_eq!(saved.version, 2);
    // Known at once, not only by reading the store (which fails now).
    store.failing_loads.store(true, Ordering::SeqCst);
    assert!(!tokens.status("org-x").await.unwrap().uninstalled);
    store.failing_loads.store(false, Ordering::SeqCst);
    // The next call refreshes with the saved refresh token.
    let token = tokens.access_token("org-x").await.unwrap();
    assert!(server.access_token_valid(token.expose_secret()));
    assert_eq!(
        server
            .refresh_token_presentations()
            .get(saved.refresh_token.expose_secret()),
        Some(&1)
    );
}

#[tokio::test]
async fn an_org_id_from_outside_cannot_forge_log_lines() {
    let (logs, _guard) = Logs::capture(tracing::Level::DEBUG);
    let (server, client) = start(mock_config()).await;
    let hostile = "x\nERROR forged: all tokens leaked";
    server.uninstall(APP, hostile);
    let tokens = OrgTokens::builder(client, APP).build();
    assert!(tokens.on_install(hostile, 1).await.is_err());
    let text = logs.text();
    assert!(text.contains("org_id="), "{text}");
    assert!(!text.contains("\nERROR forged"), "{text}");
}
