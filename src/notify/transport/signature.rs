//! Standard Webhooks v1 signatures: `v1,` and the base64 of HMAC-SHA256 over
//! `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the bytes the `whsec_` secret encodes.

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use ring::hmac;

/// Secrets are handed out with and without their padding; the reference verifiers accept
/// both, so the signer must too.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a signing secret cannot sign. Says what is wrong, never what the secret holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signing secret is not base64 after its `whsec_` prefix")]
    NotBase64,
    #[error("the signing secret is empty")]
    Empty,
}

/// The HMAC key a `whsec_…` secret (or its bare base64) stands for.
pub fn signing_key(secret: &str) -> Result<hmac::Key, SignatureError> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let bytes = SECRET_BASE64
        .decode(encoded)
        .map_err(|_| SignatureError::NotBase64)?;
    if bytes.is_empty() {
        return Err(SignatureError::Empty);
    }
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
}

/// The `webhook-signature` header's value for this id, timestamp (Unix seconds) and body.
pub fn signature(key: &hmac::Key, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut context = hmac::Context::with_key(key);
    context.update(id.as_bytes());
    context.update(b".");
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    let tag = context.sign();
    format!("v1,{}", general_purpose::STANDARD.encode(tag.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's test vector (standard-webhooks, reference implementations).
    #[test]
    fn the_specification_test_vector() {
        let key = signing_key("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").expect("a valid secret");
        assert_eq!(
            signature(
                &key,
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1649367553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn the_prefix_and_the_padding_are_optional() {
        let body = b"{}";
        let reference = signature(
            &signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid"),
            "msg_1",
            1,
            body,
        );
        for secret in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            // 24 bytes: no padding either way; a 2-byte secret needs it.
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ] {
            let key = signing_key(secret).expect("valid");
            assert_eq!(signature(&key, "msg_1", 1, body), reference);
        }
        let padded = signature(&signing_key("whsec_YWI=").expect("valid"), "m", 1, body);
        let unpadded = signature(&signing_key("whsec_YWI").expect("valid"), "m", 1, body);
        assert_eq!(padded, unpadded);
    }

    #[test]
    fn a_secret_that_is_not_base64_is_refused_without_being_shown() {
        let e = signing_key("whsec_not*base64!").expect_err("refused");
        assert_eq!(e, SignatureError::NotBase64);
        assert!(!e.to_string().contains("not*base64"));
        assert_eq!(
            signing_key("whsec_").expect_err("empty"),
            SignatureError::Empty
        );
    }
}
