//! A valid signature verifies; flipping any bit of any signed field makes it fail.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use cobo_oauth::signing::{CoboAuth, Digest, Ed25519Signer, NonceSource, StringToSign};
use cobo_oauth::verify::{ResponseVerifier, VerifyError};
use ed25519_dalek::{Verifier as _, VerifyingKey};
use proptest::prelude::*;

fn auth() -> (CoboAuth, VerifyingKey) {
    let signer = Ed25519Signer::from_hex(cobo_oauth_tests::API_SECRET).unwrap();
    let mut key = [0u8; 32];
    hex::decode_to_slice(signer_key(&signer), &mut key).unwrap();
    (
        CoboAuth::new(Arc::new(signer), Arc::new(NonceSource::default())),
        VerifyingKey::from_bytes(&key).unwrap(),
    )
}

fn signer_key(signer: &Ed25519Signer) -> String {
    use cobo_oauth::signing::Signer as _;
    signer.api_key().as_str().to_owned()
}

fn verifies(key: &VerifyingKey, sts: &StringToSign, signature: &[u8]) -> bool {
    let signature = ed25519_dalek::Signature::from_slice(signature).unwrap();
    key.verify(Digest::sha256d(sts.as_bytes()).as_bytes(), &signature)
        .is_ok()
}

fn flip(text: &str, bit: usize) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    let index = bit / 8 % bytes.len();
    bytes[index] ^= 1 << (bit % 8);
    bytes
}

proptest! {
    #[test]
    fn flipping_any_bit_of_any_field_breaks_the_signature(
        method in "(GET|POST|PUT|DELETE)",
        path in "/v2/[a-z/]{1,20}",
        nonce in 1u64..u64::MAX,
        params in "[a-z0-9=&%+]{1,30}",
        body in "[ -~]{1,40}",
        field in 0usize..5,
        bit in 0usize..4096,
    ) {
        let (auth, key) = auth();
        let nonce = nonce.to_string();
        let parts = auth.sign_parts(&method, &path, &nonce, &params, body.as_bytes()).unwrap();
        prop_assert!(verifies(&key, &parts.string_to_sign, parts.signature.as_bytes()));

        let mut fields = [method.as_bytes().to_vec(), path.as_bytes().to_vec(), nonce.as_bytes().to_vec(), params.as_bytes().to_vec(), body.as_bytes().to_vec()];
        fields[field] = flip(std::str::from_utf8(&fields[field]).unwrap(), bit);
        let text = |b: &Vec<u8>| String::from_utf8_lossy(b).into_owned();
        let tampered = StringToSign::new(&text(&fields[0]), &text(&fields[1]), &text(&fields[2]), &text(&fields[3]), &fields[4]);
        prop_assume!(tampered != parts.string_to_sign);
        prop_assert!(!verifies(&key, &tampered, parts.signature.as_bytes()));

        // And any bit of the signature itself.
        let mut signature = parts.signature.as_bytes().to_vec();
        signature[bit / 8 % 64] ^= 1 << (bit % 8);
        prop_assert!(!verifies(&key, &parts.string_to_sign, &signature));
    }

    #[test]
    fn flipping_any_bit_of_a_signed_response_is_rejected(body in "[ -~]{0,60}", timestamp in 1u64..u64::MAX, bit in 0usize..4096) {
        let server = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let verifier = ResponseVerifier::new(server.verifying_key());
        let timestamp = timestamp.to_string();
        let signature = cobo_oauth_tests::sign_response(&server, &body, &timestamp);
        prop_assert_eq!(verifier.verify(body.as_bytes(), &timestamp, &signature, 200), Ok(()));
        if !body.is_empty() {
            let tampered = flip(&body, bit);
            prop_assert_eq!(verifier.verify(&tampered, &timestamp, &signature, 200), Err(VerifyError::Invalid { status: 200 }));
        }
        let tampered_ts = String::from_utf8_lossy(&flip(&timestamp, bit)).into_owned();
        prop_assume!(tampered_ts != timestamp);
        prop_assert_eq!(verifier.verify(body.as_bytes(), &tampered_ts, &signature, 200), Err(VerifyError::Invalid { status: 200 }));
    }
}
