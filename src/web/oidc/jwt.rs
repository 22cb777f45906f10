//! ID token verification: the signature (RS256 or ES256, with ring) against the provider's
//! keys, then `iss`, `aud` (and `azp`), `exp`, `iat` and `nonce`.
//!
//! Hand-written over ring rather than a JWT crate: the JWT crates bring a second crypto stack
//! (aws-lc-rs, or RustCrypto's rsa and p256), and an ID token needs only these two algorithms
//! and a handful of claims. `alg: none`, the HMAC algorithms (which would let anyone holding
//! the client secret mint tokens) and every other algorithm are refused before any key is
//! looked at.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::Value;

/// How far the provider's clock may be from ours.
pub const LEEWAY_SECONDS: i64 = 60;

/// One key of a JWKS.
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

/// A JWKS document.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Jwks {
    #[serde(default)]
    pub keys: Vec<Jwk>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Es256,
}

impl Alg {
    fn kty(self) -> &'static str {
        match self {
            Alg::Rs256 => "RSA",
            Alg::Es256 => "EC",
        }
    }
}

/// A token taken apart, its signature not yet checked.
#[derive(Debug)]
pub struct Parsed<'a> {
    pub alg: Alg,
    pub kid: Option<String>,
    signed: &'a str,
    signature: Vec<u8>,
    claims: Value,
}

/// What is checked besides the signature.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    /// Unix seconds.
    pub now: i64,
}

/// Why an ID token was refused. The messages go to the log; the page says less.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the ID token is not a signed JWT")]
    Malformed,
    #[error("the ID token's algorithm `{0}` is not accepted (RS256 or ES256 only)")]
    Algorithm(String),
    #[error("no key of the provider's JWKS matches the ID token's key id")]
    UnknownKey,
    #[error("the ID token's signature does not verify")]
    BadSignature,
    #[error("the ID token was issued by `{0}`, not the configured issuer")]
    Issuer(String),
    #[error("the ID token is not for this client (aud/azp)")]
    Audience,
    #[error("the ID token has expired")]
    Expired,
    #[error("the ID token is issued in the future")]
    NotYetValid,
    #[error("the ID token's nonce does not match this sign-in")]
    Nonce,
    #[error("the ID token has no `{0}` claim")]
    Missing(&'static str),
}

/// Splits a compact JWS and reads its header; refuses every algorithm but RS256 and ES256.
pub fn parse(token: &str) -> Result<Parsed<'_>, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let decode = |part: &str| B64.decode(part).map_err(|_| TokenError::Malformed);
    let header: Value =
        serde_json::from_slice(&decode(header)?).map_err(|_| TokenError::Malformed)?;
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => Alg::Rs256,
        Some("ES256") => Alg::Es256,
        Some(other) => return Err(TokenError::Algorithm(other.to_owned())),
        None => return Err(TokenError::Algorithm(String::new())),
    };
    if header.get("crit").is_some() {
        return Err(TokenError::Malformed);
    }
    let claims: Value =
        serde_json::from_slice(&decode(payload)?).map_err(|_| TokenError::Malformed)?;
    if !claims.is_object() {
        return Err(TokenError::Malformed);
    }
    Ok(Parsed {
        alg,
        kid: header.get("kid").and_then(Value::as_str).map(str::to_owned),
        signed: &token[..header_len(token, payload)],
        signature: decode(signature)?,
        claims,
    })
}

fn header_len(token: &str, payload: &str) -> usize {
    // `header.payload`: everything before the second dot.
    token.find('.').map_or(0, |i| i + 1 + payload.len())
}

impl Parsed<'_> {
    /// The key of `jwks` this token names: by `kid`, or the only key of its type.
    pub fn key<'k>(&self, jwks: &'k Jwks) -> Option<&'k Jwk> {
        let usable = |k: &&Jwk| {
            k.kty == self.alg.kty()
                && k.use_.as_deref().is_none_or(|u| u == "sig")
                && k.alg.as_deref().is_none_or(|a| a == alg_name(self.alg))
        };
        match &self.kid {
            Some(kid) => jwks
                .keys
                .iter()
                .filter(usable)
                .find(|k| k.kid.as_deref() == Some(kid)),
            None => {
                let mut candidates = jwks.keys.iter().filter(usable);
                let first = candidates.next();
                if candidates.next().is_some() {
                    None
                } else {
                    first
                }
            }
        }
    }

    /// Checks the signature with `key`, then the claims; returns the claims.
    pub fn verify(self, key: &Jwk, expect: &Expect<'_>) -> Result<Value, TokenError> {
        let field = |v: &Option<String>| {
            v.as_deref()
                .and_then(|s| B64.decode(s).ok())
                .ok_or(TokenError::UnknownKey)
        };
        let message = self.signed.as_bytes();
        let verified = match self.alg {
            Alg::Rs256 => {
                let components = RsaPublicKeyComponents {
                    n: field(&key.n)?,
                    e: field(&key.e)?,
                };
                components.verify(
                    &signature::RSA_PKCS1_2048_8192_SHA256,
                    message,
                    &self.signature,
                )
            }
            Alg::Es256 => {
                if key.crv.as_deref() != Some("P-256") {
                    return Err(TokenError::UnknownKey);
                }
                let mut point = vec![0x04];
                point.extend(field(&key.x)?);
                point.extend(field(&key.y)?);
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, &self.signature)
            }
        };
        verified.map_err(|_| TokenError::BadSignature)?;
        check_claims(self.claims, expect)
    }
}

fn alg_name(alg: Alg) -> &'static str {
    match alg {
        Alg::Rs256 => "RS256",
        Alg::Es256 => "ES256",
    }
}

fn check_claims(claims: Value, expect: &Expect<'_>) -> Result<Value, TokenError> {
    let text = |name: &'static str| claims.get(name).and_then(Value::as_str);
    let number = |name: &'static str| claims.get(name).and_then(Value::as_i64);
    let iss = text("iss").ok_or(TokenError::Missing("iss"))?;
    if iss != expect.issuer {
        return Err(TokenError::Issuer(iss.to_owned()));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Err(TokenError::Missing("aud")),
    };
    if !audiences.contains(&expect.client_id) {
        return Err(TokenError::Audience);
    }
    // With several audiences the token must say it was issued to this client.
    if (audiences.len() > 1 || text("azp").is_some()) && text("azp") != Some(expect.client_id) {
        return Err(TokenError::Audience);
    }
    let exp = number("exp").ok_or(TokenError::Missing("exp"))?;
    if exp + LEEWAY_SECONDS <= expect.now {
        return Err(TokenError::Expired);
    }
    let iat = number("iat").ok_or(TokenError::Missing("iat"))?;
    if iat - LEEWAY_SECONDS > expect.now {
        return Err(TokenError::NotYetValid);
    }
    match text("nonce") {
        Some(nonce) if super::super::session::same(nonce, expect.nonce) => {}
        _ => return Err(TokenError::Nonce),
    }
    if text("sub").is_none_or(str::is_empty) {
        return Err(TokenError::Missing("sub"));
    }
    Ok(claims)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use serde_json::json;

    pub(crate) struct Key {
        pair: EcdsaKeyPair,
        kid: &'static str,
    }

    impl Key {
        pub(crate) fn new(kid: &'static str) -> Key {
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .expect("a key");
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .expect("a key");
            Key { pair, kid }
        }

        pub(crate) fn jwk(&self) -> Jwk {
            let point = self.pair.public_key().as_ref();
            serde_json::from_value(json!({
                "kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig",
                "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
            }))
            .expect("a JWK")
        }

        pub(crate) fn sign(&self, header: &Value, claims: &Value) -> String {
            let signed = format!(
                "{}.{}",
                B64.encode(header.to_string()),
                B64.encode(claims.to_string())
            );
            let sig = self
                .pair
                .sign(&SystemRandom::new(), signed.as_bytes())
                .expect("signs");
            format!("{signed}.{}", B64.encode(sig.as_ref()))
        }
    }

    const NOW: i64 = 1_800_000_000;

    fn claims() -> Value {
        json!({"iss": "https://idp.example", "aud": "recert", "sub": "alice",
               "exp": NOW + 300, "iat": NOW, "nonce": "n-1"})
    }

    fn expect() -> Expect<'static> {
        Expect {
            issuer: "https://idp.example",
            client_id: "recert",
            nonce: "n-1",
            now: NOW,
        }
    }

    fn check(token: &str, jwks: &Jwks) -> Result<Value, TokenError> {
        let parsed = parse(token)?;
        let key = parsed.key(jwks).ok_or(TokenError::UnknownKey)?.clone();
        parsed.verify(&key, &expect())
    }

    fn with(change: impl FnOnce(&mut Value)) -> Value {
        let mut c = claims();
        change(&mut c);
        c
    }

    #[test]
    fn a_good_token_verifies_and_each_wrong_claim_is_refused() {
        let key = Key::new("k1");
        let jwks = Jwks {
            keys: vec![key.jwk()],
        };
        let header = json!({"alg": "ES256", "kid": "k1"});
        let sign = |c: &Value| key.sign(&header, c);
        assert_eq!(
            check(&sign(&claims()), &jwks).map(|c| c["sub"].clone()),
            Ok(json!("alice"))
        );
        let cases = [
            (
                with(|c| c["iss"] = json!("https://other.example")),
                TokenError::Issuer("https://other.example".into()),
            ),
            (
                with(|c| c["aud"] = json!("someone-else")),
                TokenError::Audience,
            ),
            (
                with(|c| c["aud"] = json!(["recert", "other"])),
                TokenError::Audience,
            ),
            (
                with(|c| c["exp"] = json!(NOW - LEEWAY_SECONDS)),
                TokenError::Expired,
            ),
            (
                with(|c| c["iat"] = json!(NOW + 2 * LEEWAY_SECONDS)),
                TokenError::NotYetValid,
            ),
            (with(|c| c["nonce"] = json!("n-2")), TokenError::Nonce),
            (
                with(|c| {
                    c.as_object_mut().map(|o| o.remove("nonce"));
                }),
                TokenError::Nonce,
            ),
        ];
        for (claims, error) in cases {
            assert_eq!(check(&sign(&claims), &jwks), Err(error.clone()), "{claims}");
        }
        let several = with(|c| {
            c["aud"] = json!(["recert", "other"]);
            c["azp"] = json!("recert");
        });
        assert!(check(&sign(&several), &jwks).is_ok());
    }

    #[test]
    fn unsigned_hmac_and_wrongly_signed_tokens_are_refused() {
        let key = Key::new("k1");
        let jwks = Jwks {
            keys: vec![key.jwk()],
        };
        let body = B64.encode(claims().to_string());
        let none = format!("{}.{body}.", B64.encode(json!({"alg": "none"}).to_string()));
        assert_eq!(
            check(&none, &jwks),
            Err(TokenError::Algorithm("none".into()))
        );
        let hs = format!(
            "{}.{body}.c2ln",
            B64.encode(json!({"alg": "HS256"}).to_string())
        );
        assert_eq!(
            check(&hs, &jwks),
            Err(TokenError::Algorithm("HS256".into()))
        );
        // Signed by another key that claims the provider's key id.
        let other = Key::new("k1");
        let forged = other.sign(&json!({"alg": "ES256", "kid": "k1"}), &claims());
        assert_eq!(check(&forged, &jwks), Err(TokenError::BadSignature));
        // The payload changed after signing.
        let good = key.sign(&json!({"alg": "ES256", "kid": "k1"}), &claims());
        let mut parts: Vec<&str> = good.split('.').collect();
        let changed = B64.encode(with(|c| c["sub"] = json!("mallory")).to_string());
        parts[1] = &changed;
        assert_eq!(
            check(&parts.join("."), &jwks),
            Err(TokenError::BadSignature)
        );
        let unknown = key.sign(&json!({"alg": "ES256", "kid": "k9"}), &claims());
        assert_eq!(check(&unknown, &jwks), Err(TokenError::UnknownKey));
    }
}
