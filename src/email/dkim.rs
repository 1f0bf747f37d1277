//! DKIM signing, when a key is configured: receiving servers can then tell
//! that mail claiming the association's domain really comes from it, which
//! keeps digests out of spam folders.

use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm, DkimSigningKey,
};
use lettre::message::header::HeaderName;
use lettre::Message;
use secrecy::{ExposeSecret, SecretString};

/// From `KARVAN_DKIM_KEY_FILE`, `KARVAN_DKIM_SELECTOR`, `KARVAN_DKIM_DOMAIN`.
#[derive(Debug, Clone)]
pub struct DkimSettings {
    /// An RSA key in PKCS#1 PEM (`openssl genrsa -traditional 2048`), or an
    /// Ed25519 key as base64 of its 32 bytes.
    pub private_key: SecretString,
    pub selector: String,
    pub domain: String,
}

/// Signs every message; bulk mail's signature also covers its unsubscribe
/// headers, so no one on the way can add or change them.
pub struct DkimSigner {
    transactional: DkimConfig,
    bulk: DkimConfig,
}

const SIGNED: [&str; 7] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
];
const SIGNED_ON_BULK: [&str; 2] = ["List-Unsubscribe", "List-Unsubscribe-Post"];

impl DkimSigner {
    pub fn new(settings: &DkimSettings) -> Result<Self, String> {
        let config = |headers: Vec<&'static str>| -> Result<DkimConfig, String> {
            let key_text = settings.private_key.expose_secret().trim();
            let algorithm = if key_text.starts_with("-----BEGIN") {
                DkimSigningAlgorithm::Rsa
            } else {
                DkimSigningAlgorithm::Ed25519
            };
            let key = DkimSigningKey::new(key_text, algorithm)
                .map_err(|e| format!("not an RSA PKCS#1 PEM key nor a base64 Ed25519 key: {e}"))?;
            Ok(DkimConfig::new(
                settings.selector.clone(),
                settings.domain.clone(),
                key,
                headers.into_iter().map(HeaderName::new_from_ascii_str).collect(),
                DkimCanonicalization {
                    header: DkimCanonicalizationType::Relaxed,
                    body: DkimCanonicalizationType::Relaxed,
                },
            ))
        };
        Ok(Self {
            transactional: config(SIGNED.to_vec())?,
            bulk: config(SIGNED.iter().chain(SIGNED_ON_BULK.iter()).copied().collect())?,
        })
    }

    pub fn sign(&self, message: &mut Message) {
        let is_bulk = message.headers().get_raw("List-Unsubscribe").is_some();
        message.sign(if is_bulk { &self.bulk } else { &self.transactional });
    }
}
