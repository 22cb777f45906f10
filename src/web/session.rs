//! Signed cookies: the session (who signed in, until when, the CSRF token of their forms) and
//! the sign-in in flight (state, nonce and PKCE verifier between the redirect to the provider
//! and its answer).
//!
//! A cookie is `BASE64URL(JSON).BASE64URL(HMAC-SHA256(purpose "." BASE64URL(JSON)))`: the
//! purpose in the signed text keeps one kind of cookie from being replayed as the other. The
//! browser can read what a cookie holds (nothing secret: the verifier is worthless without
//! the code the provider sends to this browser alone) but cannot change it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Who is signed in, as the session cookie carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The directory user's id.
    pub principal: String,
    /// Their user principal name, as the directory gives it.
    pub upn: String,
    /// Their display name, for the page.
    pub name: String,
    /// The ID token's `sub` and `iss`.
    pub sub: String,
    pub iss: String,
    /// Unix seconds after which the cookie is refused.
    pub exp: i64,
    /// The token every form of this session carries.
    pub csrf: String,
}

/// A sign-in between the redirect to the provider and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// Where to go once signed in: a same-origin path.
    pub return_to: String,
    pub exp: i64,
}

/// What a cookie is for; part of what is signed.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    Session,
    Pending,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Session => "session",
            Purpose::Pending => "pending",
        }
    }
}

/// Why a cookie was refused. Deliberately coarse: the page says only "sign in again".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    #[error("the cookie is malformed")]
    Malformed,
    #[error("the cookie's signature does not match")]
    BadSignature,
    #[error("the cookie has expired")]
    Expired,
}

/// Signs and checks cookies.
pub struct Signer {
    key: hmac::Key,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(***)")
    }
}

impl Signer {
    /// A signer with the given key (shared by replicas), or a random one.
    pub fn new(key: Option<&[u8]>) -> Signer {
        let key = match key {
            Some(key) => hmac::Key::new(hmac::HMAC_SHA256, key),
            None => hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
                .expect("the system's random source works"),
        };
        Signer { key }
    }

    pub fn seal<T: Serialize>(&self, purpose: Purpose, value: &T) -> String {
        let body = B64.encode(serde_json::to_vec(value).expect("a cookie value serialises"));
        let tag = hmac::sign(&self.key, signed_text(purpose, &body).as_bytes());
        format!("{body}.{}", B64.encode(tag.as_ref()))
    }

    /// The value, if the cookie is this signer's, for this purpose, and `exp` (read from the
    /// value by `expiry`) is after `now`.
    pub fn open<T: DeserializeOwned>(
        &self,
        purpose: Purpose,
        cookie: &str,
        now: i64,
        expiry: impl Fn(&T) -> i64,
    ) -> Result<T, CookieError> {
        let (body, tag) = cookie.split_once('.').ok_or(CookieError::Malformed)?;
        let tag = B64.decode(tag).map_err(|_| CookieError::Malformed)?;
        hmac::verify(&self.key, signed_text(purpose, body).as_bytes(), &tag)
            .map_err(|_| CookieError::BadSignature)?;
        let bytes = B64.decode(body).map_err(|_| CookieError::Malformed)?;
        let value: T = serde_json::from_slice(&bytes).map_err(|_| CookieError::Malformed)?;
        if expiry(&value) <= now {
            return Err(CookieError::Expired);
        }
        Ok(value)
    }
}

fn signed_text(purpose: Purpose, body: &str) -> String {
    format!("recert.{}.{body}", purpose.label())
}

/// `n` random bytes, base64url: state, nonce, PKCE verifier, CSRF token.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random source works");
    B64.encode(bytes)
}

/// Equal without telling, by its timing, how much of `a` matched.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax`, `Secure` unless plain http on loopback.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(exp: i64) -> Session {
        Session {
            principal: "u-alice".into(),
            upn: "alice@corp.example".into(),
            name: "Alice".into(),
            sub: "alice".into(),
            iss: "https://idp.example".into(),
            exp,
            csrf: random_token(32),
        }
    }

    #[test]
    fn a_sealed_session_opens_until_it_expires() {
        let signer = Signer::new(None);
        let cookie = signer.seal(Purpose::Session, &session(100));
        let open = |now| signer.open::<Session>(Purpose::Session, &cookie, now, |s| s.exp);
        assert_eq!(open(99).map(|s| s.principal), Ok("u-alice".to_owned()));
        assert_eq!(open(100), Err(CookieError::Expired));
    }

    #[test]
    fn a_changed_cookie_another_key_or_purpose_is_refused() {
        let signer = Signer::new(Some(b"0123456789abcdef0123456789abcdef"));
        let cookie = signer.seal(Purpose::Session, &session(100));
        let (_, tag) = cookie.split_once('.').expect("two parts");
        let mut forged = session(100);
        forged.principal = "u-mallory".into();
        let body = B64.encode(serde_json::to_vec(&forged).expect("json"));
        let tampered = format!("{body}.{tag}");
        let open = |s: &Signer, p, c: &str| s.open::<Session>(p, c, 0, |s| s.exp);
        assert_eq!(
            open(&signer, Purpose::Session, &tampered),
            Err(CookieError::BadSignature)
        );
        assert_eq!(
            open(&signer, Purpose::Pending, &cookie),
            Err(CookieError::BadSignature)
        );
        assert_eq!(
            open(&Signer::new(None), Purpose::Session, &cookie),
            Err(CookieError::BadSignature)
        );
        assert_eq!(
            open(&signer, Purpose::Session, "garbage"),
            Err(CookieError::Malformed)
        );
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let header = "a_recert_session=x; recert_session=y";
        assert_eq!(cookie(header, "recert_session"), Some("y"));
        assert_eq!(cookie(header, "recert"), None);
    }
}
