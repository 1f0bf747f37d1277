//! Signed unsubscribe links (RFC 8058): each names one member and one kind
//! of bulk mail, so a link forwarded, guessed or altered unsubscribes no
//! one else, and following it needs no password. The key is derived from
//! the service's secret, so links stay valid across restarts.

use std::sync::Arc;

use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The kinds of bulk mail a member can stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    Events,
    Announcements,
    Digest,
}

impl Topic {
    const ALL: [Topic; 3] = [Topic::Events, Topic::Announcements, Topic::Digest];

    fn code(self) -> u8 {
        match self {
            Topic::Events => 1,
            Topic::Announcements => 2,
            Topic::Digest => 3,
        }
    }

    /// What a person is unsubscribing from, in a sentence.
    pub fn label(self) -> &'static str {
        match self {
            Topic::Events => "mail about new events",
            Topic::Announcements => "the board's announcements",
            Topic::Digest => "the digest",
        }
    }
}

/// The key unsubscribe links are signed with.
#[derive(Clone)]
pub struct UnsubscribeKey(Arc<[u8; 32]>);

impl std::fmt::Debug for UnsubscribeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnsubscribeKey(..)")
    }
}

const MAC_BYTES: usize = 16;

impl UnsubscribeKey {
    /// A key of its own, derived from the service's secret (never the
    /// secret itself, which also signs access tokens).
    pub fn from_secret(secret: &SecretString) -> Self {
        let mut hash = Sha256::new();
        hash.update(b"karvan unsubscribe links\0");
        hash.update(secret.expose_secret().as_bytes());
        Self(Arc::new(hash.finalize().into()))
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_slice()).expect("HMAC takes any key length");
        mac.update(payload);
        mac
    }

    /// The token for `member` and `topic`: the two, and their signature.
    pub fn token(&self, member: Uuid, topic: Topic) -> String {
        let mut payload = member.as_bytes().to_vec();
        payload.push(topic.code());
        let signature = self.mac(&payload).finalize().into_bytes();
        payload.extend_from_slice(&signature[..MAC_BYTES]);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload)
    }

    /// The member and topic of a genuine token; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<(Uuid, Topic)> {
        if token.len() > 100 {
            return None;
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() != 16 + 1 + MAC_BYTES {
            return None;
        }
        let (payload, signature) = bytes.split_at(17);
        // Compared in constant time.
        self.mac(payload).verify_truncated_left(signature).ok()?;
        let member = Uuid::from_slice(&payload[..16]).ok()?;
        let topic = Topic::ALL.into_iter().find(|t| t.code() == payload[16])?;
        Some((member, topic))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> UnsubscribeKey {
        UnsubscribeKey::from_secret(&SecretString::from(secret.to_string()))
    }

    #[test]
    fn a_token_names_its_member_and_topic_and_nothing_else_verifies() {
        let key = key("a secret of the service");
        let member = Uuid::new_v4();
        let token = key.token(member, Topic::Announcements);
        assert_eq!(key.verify(&token), Some((member, Topic::Announcements)));
        // Another key, an altered byte, another member's id: refused.
        assert_eq!(super::tests::key("another secret").verify(&token), None);
        let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in [0, 16, 20] {
            bytes[i] ^= 1;
            let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
            assert_eq!(key.verify(&forged), None, "byte {i} altered");
            bytes[i] ^= 1;
        }
        for junk in ["", "not-a-token", "%%%", &"A".repeat(500)] {
            assert_eq!(key.verify(junk), None);
        }
    }
}
