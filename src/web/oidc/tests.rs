//! The provider's key cache against a provider on loopback whose keys the test rotates.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::jwt::tests::Key;
use super::jwt::{Expect, TokenError};
use super::{Provider, ProviderError};
use crate::directory::secret::Secret;
use crate::model::portal::PrincipalClaim;
use crate::web::config::Settings;

struct Keys {
    served: Mutex<Value>,
    fetches: AtomicUsize,
}

async fn provider(keys: Arc<Keys>) -> (Provider, String) {
    provider_with(keys, |_| {}).await
}

/// A provider whose discovery document `change` alters.
async fn provider_with(keys: Arc<Keys>, change: impl FnOnce(&mut Value)) -> (Provider, String) {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let issuer = format!("http://{}", listener.local_addr().expect("address"));
    let mut discovery = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
    });
    change(&mut discovery);
    let discovery = discovery.to_string();
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let body = discovery.clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        )
        .route(
            "/jwks",
            get(move || {
                let keys = keys.clone();
                async move {
                    keys.fetches.fetch_add(1, Ordering::SeqCst);
                    let body = keys.served.lock().expect("lock").to_string();
                    ([("content-type", "application/json")], body)
                }
            }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let settings = Settings {
        origin: "http://127.0.0.1:1".into(),
        redirect_uri: "http://127.0.0.1:1/auth/callback".into(),
        issuer: issuer.clone(),
        client_id: "recert".into(),
        client_secret: Secret::new("s"),
        principal_claim: PrincipalClaim::Oid,
        scopes: "openid".into(),
        admins: Vec::new(),
        session: Duration::from_secs(3600),
        read_only: false,
        secure_cookies: false,
        session_key: None,
        directory: "corp".into(),
    };
    (Provider::new(settings).expect("a client"), issuer)
}

fn jwks(keys: &[&Key]) -> Value {
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| {
            let jwk = k.jwk();
            json!({"kty": jwk.kty, "crv": jwk.crv, "kid": jwk.kid, "x": jwk.x, "y": jwk.y})
        })
        .collect();
    json!({ "keys": keys })
}

async fn check(provider: &Provider, issuer: &str, key: &Key) -> Result<Value, ProviderError> {
    let now = jiff::Timestamp::now().as_second();
    let claims = json!({"iss": issuer, "aud": "recert", "sub": "s", "iat": now,
                        "exp": now + 60, "nonce": "n"});
    let token = key.sign(&json!({"alg": "ES256", "kid": key.jwk().kid}), &claims);
    let metadata = provider.metadata().await?;
    let expect = Expect {
        issuer,
        client_id: "recert",
        nonce: "n",
        now,
    };
    provider.verify(&token, &metadata, &expect).await
}

#[tokio::test]
async fn keys_are_cached_and_fetched_again_for_a_key_id_not_seen_yet() {
    let old = Key::new("k1");
    let new = Key::new("k2");
    let keys = Arc::new(Keys {
        served: Mutex::new(jwks(&[&old])),
        fetches: AtomicUsize::new(0),
    });
    let (mut provider, issuer) = provider(keys.clone()).await;
    provider.refetch_after = Duration::ZERO;
    let fetches = || keys.fetches.load(Ordering::SeqCst);

    assert!(check(&provider, &issuer, &old).await.is_ok());
    assert!(check(&provider, &issuer, &old).await.is_ok());
    assert_eq!(fetches(), 1, "a known key is taken from the cache");

    // The provider rotates its keys: a token under the new key id fetches them again.
    *keys.served.lock().expect("lock") = jwks(&[&new]);
    assert!(check(&provider, &issuer, &new).await.is_ok());
    assert_eq!(fetches(), 2);

    // A key id that is nowhere is refused after one more fetch.
    let stranger = Key::new("k9");
    let refused = check(&provider, &issuer, &stranger).await;
    assert!(
        matches!(refused, Err(ProviderError::Token(TokenError::UnknownKey))),
        "{refused:?}"
    );
    assert_eq!(fetches(), 3);
}

#[tokio::test]
async fn unknown_key_ids_do_not_make_the_page_fetch_keys_again_and_again() {
    let known = Key::new("k1");
    let keys = Arc::new(Keys {
        served: Mutex::new(jwks(&[&known])),
        fetches: AtomicUsize::new(0),
    });
    let (provider, issuer) = provider(keys.clone()).await;
    assert!(check(&provider, &issuer, &known).await.is_ok());
    for kid in ["k7", "k8", "k9"] {
        let refused = check(&provider, &issuer, &Key::new(kid)).await;
        assert!(
            matches!(refused, Err(ProviderError::Token(TokenError::UnknownKey))),
            "{refused:?}"
        );
    }
    assert_eq!(
        keys.fetches.load(Ordering::SeqCst),
        1,
        "within the refetch interval"
    );
}

#[tokio::test]
async fn a_discovery_document_for_another_issuer_or_with_plain_http_endpoints_is_refused() {
    let keys = || {
        Arc::new(Keys {
            served: Mutex::new(json!({"keys": []})),
            fetches: AtomicUsize::new(0),
        })
    };
    let (other, _) = provider_with(keys(), |d| d["issuer"] = json!("https://other.example")).await;
    let refused = other
        .metadata()
        .await
        .map(|_| ())
        .expect_err("another issuer");
    assert!(
        refused
            .to_string()
            .contains("names issuer `https://other.example`"),
        "{refused}"
    );

    let (plain, _) = provider_with(keys(), |d| {
        d["token_endpoint"] = json!("http://idp.example/token")
    })
    .await;
    let refused = plain.metadata().await.map(|_| ()).expect_err("plain http");
    assert!(
        refused
            .to_string()
            .contains("`token_endpoint` must be an https:// URL"),
        "{refused}"
    );

    let (no_pkce, _) = provider_with(keys(), |d| {
        d["code_challenge_methods_supported"] = json!(["plain"])
    })
    .await;
    let refused = no_pkce.metadata().await.map(|_| ()).expect_err("no S256");
    assert!(refused.to_string().contains("S256"), "{refused}");
}
