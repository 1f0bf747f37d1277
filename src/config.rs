//! Typed settings, read once from the environment at start and validated there.
//!
//! A wrong value stops the start with one line naming the variable. Secrets are
//! wrapped in [`SecretString`] so `Debug` and logs never show them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// A setting that could not be used, with the variable that holds it.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl ConfigError {
    /// The message is kept to one line: it ends up as the one line a failed start prints.
    fn new(variable: &'static str, message: impl Into<String>) -> Self {
        let message: String = message.into();
        Self {
            variable,
            message: message.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }
}

/// Where the data lives: the embedded cluster under the data dir, or a server
/// named by `DATABASE_URL`.
#[derive(Debug, Clone)]
pub enum DatabaseSettings {
    Embedded,
    Url(SecretString),
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Embedded PostgreSQL cluster, `.eml` mail, generated secret.
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    /// `None`: mail is written as `.eml` files into `data_dir/mail`.
    pub smtp_url: Option<SecretString>,
    pub bind: SocketAddr,
    /// `None`: `http://<bound address>`, known only once the socket is bound.
    pub public_url: Option<Url>,
    /// `None` until [`Settings::resolve_jwt_secret`] has run (embedded default).
    pub jwt_secret: Option<SecretString>,
    pub mail_from: lettre::message::Mailbox,
    pub time_zone: Tz,
    pub digest_schedule: DigestSchedule,
    pub log_filter: String,
    /// Shown in page titles and mail.
    pub association_name: String,
    pub db_pool_size: u32,
    /// How long a request waits for a database connection before it answers 503.
    pub db_pool_timeout: Duration,
    /// HTTP worker threads; `None`: one per core.
    pub workers: Option<usize>,
    /// Reverse proxies whose `X-Forwarded-For` tells the client's address
    /// (for the per-address limits); empty: the peer is the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub mail: MailSettings,
}

/// How the mail sender works; the defaults suit a small association's server.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// Each SMTP operation (connect, a command's answer) gives up after this.
    /// Default 10 s: a whole send then takes at most 140 s, and fits twice
    /// in the default lease of 5 min.
    pub smtp_timeout: Duration,
    /// Messages sent at once, and pooled SMTP connections.
    pub concurrency: usize,
    /// Attempts before a message is marked failed; with the backoff below,
    /// about a day of retries.
    pub max_attempts: i32,
    /// The first retry's delay; it doubles each attempt, up to four hours.
    pub retry_base: Duration,
    /// How long a claimed message is the sender's before another may take it;
    /// more than twice the longest send.
    pub lease: Duration,
    /// How often an idle sender looks for due mail.
    pub poll_interval: Duration,
    /// Messages claimed per batch.
    pub batch_size: i64,
    /// Offered beside the https link in `List-Unsubscribe`, when set.
    pub unsubscribe_mailto: Option<String>,
    /// Signing, when a key is configured.
    pub dkim: Option<crate::email::dkim::DkimSettings>,
}

/// The digest cron expression, kept with the text it came from; `off`
/// (no schedule: digests only when an admin or `karvan digest run` asks).
#[derive(Clone)]
pub struct DigestSchedule {
    pub expression: String,
    pub schedule: Option<cron::Schedule>,
}

impl std::fmt::Debug for DigestSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.expression)
    }
}

/// Weekly, Monday 08:00 (seconds, minutes, hours, day of month, month, weekday).
pub const DEFAULT_DIGEST_SCHEDULE: &str = "0 0 8 * * Mon";
/// JWT secrets shorter than this are refused: HS256 wants at least 256 bits.
const MIN_JWT_SECRET_BYTES: usize = 32;

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can pass a map instead of
    /// changing the process environment. Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let data_dir = PathBuf::from(get("KARVAN_DATA_DIR").unwrap_or_else(|| "./var".into()));

        let database = match get("DATABASE_URL") {
            None => DatabaseSettings::Embedded,
            Some(url) => DatabaseSettings::Url(secret_url(
                "DATABASE_URL",
                url,
                &["postgres", "postgresql"],
                "postgres://user:password@host:port/database",
            )?),
        };
        let smtp_url = match get("SMTP_URL") {
            None => None,
            Some(url) => {
                let url = secret_url(
                    "SMTP_URL",
                    url,
                    &["smtp", "smtps"],
                    "smtp://127.0.0.1:2525 or smtps://user:pass@host",
                )?;
                crate::email::smtp::SmtpServer::from_url(url.expose_secret())
                    .map_err(|e| ConfigError::new("SMTP_URL", e))?;
                Some(url)
            }
        };

        let bind_text = get("KARVAN_BIND").unwrap_or_else(|| "127.0.0.1:8080".into());
        let bind = SocketAddr::from_str(bind_text.trim()).map_err(|_| {
            ConfigError::new(
                "KARVAN_BIND",
                format!("'{bind_text}' is not an address and port like 127.0.0.1:8080 or [::]:8080"),
            )
        })?;

        let public_url = match get("KARVAN_PUBLIC_URL") {
            None => None,
            Some(text) => Some(parse_public_url(&text)?),
        };

        let jwt_secret = match get("KARVAN_JWT_SECRET") {
            None => None,
            Some(secret) => {
                if secret.len() < MIN_JWT_SECRET_BYTES {
                    return Err(ConfigError::new(
                        "KARVAN_JWT_SECRET",
                        format!("must be at least {MIN_JWT_SECRET_BYTES} characters long"),
                    ));
                }
                Some(SecretString::from(secret))
            }
        };
        if jwt_secret.is_none() && matches!(database, DatabaseSettings::Url(_)) {
            return Err(ConfigError::new(
                "KARVAN_JWT_SECRET",
                "must be set when DATABASE_URL is set, so that every replica signs tokens with the same key",
            ));
        }

        let mail_from_text = get("KARVAN_MAIL_FROM").unwrap_or_else(|| "Karvan <no-reply@localhost>".into());
        let mail_from = mail_from_text.parse::<lettre::message::Mailbox>().map_err(|e| {
            ConfigError::new(
                "KARVAN_MAIL_FROM",
                format!("'{mail_from_text}' is not a mail address like 'Alumni Board <board@example.org>' ({e})"),
            )
        })?;

        let tz_text = get("KARVAN_TIME_ZONE").unwrap_or_else(|| "UTC".into());
        let time_zone = tz_text.trim().parse::<Tz>().map_err(|_| {
            ConfigError::new(
                "KARVAN_TIME_ZONE",
                format!("'{tz_text}' is not an IANA time zone like Asia/Karachi or Asia/Baku"),
            )
        })?;

        let schedule_text = get("KARVAN_DIGEST_SCHEDULE").unwrap_or_else(|| DEFAULT_DIGEST_SCHEDULE.into());
        let schedule = if schedule_text.trim().eq_ignore_ascii_case("off") {
            None
        } else {
            Some(cron::Schedule::from_str(schedule_text.trim()).map_err(|e| {
            // The parser's message points at the fault on a line of its own; keep its last line.
            let e = e.to_string();
            let e = e.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().to_string();
            ConfigError::new(
                "KARVAN_DIGEST_SCHEDULE",
                format!("'{schedule_text}' is not a cron expression (sec min hour day month weekday, e.g. '{DEFAULT_DIGEST_SCHEDULE}') or off: {e}"),
            )
        })?)
        };
        let digest_schedule = DigestSchedule {
            expression: schedule_text.trim().to_string(),
            schedule,
        };

        let log_filter = get("RUST_LOG").unwrap_or_else(|| "info".into());
        tracing_subscriber::EnvFilter::try_new(&log_filter).map_err(|e| {
            ConfigError::new(
                "RUST_LOG",
                format!("'{log_filter}' is not a log filter like 'info' or 'karvan=debug,info': {e}"),
            )
        })?;

        let association_name = get("KARVAN_ASSOCIATION_NAME").unwrap_or_else(|| "Karvan".into());
        if association_name.chars().count() > 120 {
            return Err(ConfigError::new(
                "KARVAN_ASSOCIATION_NAME",
                "must be at most 120 characters",
            ));
        }

        let db_pool_size = parse_number(&get, "KARVAN_DB_POOL_SIZE", 10, 1, 1000)? as u32;
        let db_pool_timeout =
            Duration::from_millis(parse_number(&get, "KARVAN_DB_POOL_TIMEOUT_MS", 5000, 50, 600_000)?);
        let workers = match get("KARVAN_WORKERS") {
            None => None,
            Some(_) => Some(parse_number(&get, "KARVAN_WORKERS", 1, 1, 1024)? as usize),
        };

        let trusted_proxies = match get("KARVAN_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(|a| {
                    a.parse::<std::net::IpAddr>().map_err(|_| {
                        ConfigError::new(
                            "KARVAN_TRUSTED_PROXIES",
                            format!("'{a}' is not an IP address (write them comma-separated, like 127.0.0.1,::1)"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        };

        let mail = MailSettings {
            smtp_timeout: Duration::from_millis(parse_number(&get, "KARVAN_SMTP_TIMEOUT_MS", 10_000, 100, 600_000)?),
            concurrency: parse_number(&get, "KARVAN_SMTP_CONCURRENCY", 4, 1, 256)? as usize,
            max_attempts: parse_number(&get, "KARVAN_MAIL_MAX_ATTEMPTS", 14, 1, 100)? as i32,
            retry_base: Duration::from_millis(parse_number(&get, "KARVAN_MAIL_RETRY_BASE_MS", 60_000, 10, 3_600_000)?),
            lease: Duration::from_millis(parse_number(&get, "KARVAN_MAIL_LEASE_MS", 300_000, 100, 86_400_000)?),
            poll_interval: Duration::from_millis(parse_number(&get, "KARVAN_MAIL_POLL_MS", 1000, 10, 600_000)?),
            batch_size: parse_number(&get, "KARVAN_MAIL_BATCH", 500, 1, 10_000)? as i64,
            unsubscribe_mailto: match get("KARVAN_UNSUBSCRIBE_MAILTO") {
                None => None,
                Some(address) => Some(
                    address
                        .trim()
                        .parse::<lettre::Address>()
                        .map_err(|e| {
                            ConfigError::new(
                                "KARVAN_UNSUBSCRIBE_MAILTO",
                                format!("'{address}' is not a mail address: {e}"),
                            )
                        })?
                        .to_string(),
                ),
            },
            dkim: None,
        };
        let mut mail = mail;
        mail.dkim = dkim_settings(&get, &mail_from)?;
        let whole_send = mail.smtp_timeout * crate::email::smtp::SmtpClient::TIMEOUTS_PER_SEND;
        if mail.lease <= whole_send * 2 {
            return Err(ConfigError::new(
                "KARVAN_MAIL_LEASE_MS",
                format!(
                    "must be longer than {} ms, twice the longest send (KARVAN_SMTP_TIMEOUT_MS x {}), or a slow send could be taken over and sent twice",
                    (whole_send * 2).as_millis(),
                    crate::email::smtp::SmtpClient::TIMEOUTS_PER_SEND
                ),
            ));
        }

        Ok(Settings {
            data_dir,
            database,
            smtp_url,
            bind,
            public_url,
            jwt_secret,
            mail_from,
            time_zone,
            digest_schedule,
            log_filter,
            association_name: association_name.trim().to_string(),
            db_pool_size,
            db_pool_timeout,
            workers,
            trusted_proxies,
            mail,
        })
    }

    /// The embedded default keeps a generated secret in the data dir, so tokens
    /// survive restarts without the volunteer having to invent one.
    pub fn resolve_jwt_secret(&mut self) -> Result<(), ConfigError> {
        if self.jwt_secret.is_some() {
            return Ok(());
        }
        let path = self.data_dir.join("jwt-secret");
        let secret = load_or_create_secret(&path).map_err(|e| {
            ConfigError::new(
                "KARVAN_JWT_SECRET",
                format!(
                    "unset, and the generated secret at {} could not be read or written: {e}",
                    path.display()
                ),
            )
        })?;
        self.jwt_secret = Some(secret);
        Ok(())
    }

    /// The public URL for links, once the bound address is known.
    pub fn public_url_for(&self, bound: SocketAddr) -> Url {
        match &self.public_url {
            Some(url) => url.clone(),
            None => Url::parse(&format!("http://{bound}/")).expect("a socket address makes a valid URL"),
        }
    }

    pub fn database_url(&self) -> Option<&str> {
        match &self.database {
            DatabaseSettings::Embedded => None,
            DatabaseSettings::Url(url) => Some(url.expose_secret()),
        }
    }
}

/// A URL that may hold a password: checked, then wrapped. The error never
/// repeats the value.
fn secret_url(
    variable: &'static str,
    url: String,
    schemes: &[&str],
    example: &str,
) -> Result<SecretString, ConfigError> {
    let parsed = Url::parse(&url)
        .map_err(|e| ConfigError::new(variable, format!("not a URL ({e}); expected e.g. {example}")))?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(ConfigError::new(
            variable,
            format!(
                "scheme '{}' is not one of {}; expected e.g. {example}",
                parsed.scheme(),
                schemes.join(", ")
            ),
        ));
    }
    Ok(SecretString::from(url))
}

fn dkim_settings(
    get: &impl Fn(&str) -> Option<String>,
    mail_from: &lettre::message::Mailbox,
) -> Result<Option<crate::email::dkim::DkimSettings>, ConfigError> {
    let Some(path) = get("KARVAN_DKIM_KEY_FILE") else {
        return Ok(None);
    };
    let key = std::fs::read_to_string(path.trim())
        .map_err(|e| ConfigError::new("KARVAN_DKIM_KEY_FILE", format!("could not read {path}: {e}")))?;
    let selector = get("KARVAN_DKIM_SELECTOR").ok_or_else(|| {
        ConfigError::new(
            "KARVAN_DKIM_SELECTOR",
            "must be set with KARVAN_DKIM_KEY_FILE: the name of the DNS record (<selector>._domainkey.<domain>)",
        )
    })?;
    let settings = crate::email::dkim::DkimSettings {
        private_key: SecretString::from(key),
        selector: selector.trim().to_string(),
        domain: get("KARVAN_DKIM_DOMAIN")
            .map(|d| d.trim().to_string())
            .unwrap_or_else(|| mail_from.email.domain().to_string()),
    };
    crate::email::dkim::DkimSigner::new(&settings).map_err(|e| ConfigError::new("KARVAN_DKIM_KEY_FILE", e))?;
    Ok(Some(settings))
}

fn parse_public_url(text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text.trim()).map_err(|e| {
        ConfigError::new(
            "KARVAN_PUBLIC_URL",
            format!("'{text}' is not a URL like https://alumni.example.org ({e})"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::new(
            "KARVAN_PUBLIC_URL",
            format!("'{text}' must be an http:// or https:// URL with a host"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new(
            "KARVAN_PUBLIC_URL",
            "must not have a query or fragment",
        ));
    }
    Ok(url)
}

fn parse_number(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let Some(text) = get(variable) else {
        return Ok(default);
    };
    match text.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError::new(
            variable,
            format!("'{text}' is not a whole number from {min} to {max}"),
        )),
    }
}

fn load_or_create_secret(path: &Path) -> std::io::Result<SecretString> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim().to_string();
        if existing.len() >= MIN_JWT_SECRET_BYTES {
            return Ok(SecretString::from(existing));
        }
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let bytes: [u8; 48] = rand::random();
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Written to a temporary file and renamed, so a crash never leaves half a key.
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(SecretString::from(secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_embedded_service_on_localhost() {
        let s = settings(&[]).unwrap();
        assert!(matches!(s.database, DatabaseSettings::Embedded));
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("./var"));
        assert_eq!(s.time_zone, chrono_tz::UTC);
        assert_eq!(s.mail_from.email.to_string(), "no-reply@localhost");
        assert_eq!(s.public_url_for(s.bind).as_str(), "http://127.0.0.1:8080/");
        assert!(s.smtp_url.is_none() && s.jwt_secret.is_none());
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let cases = [
            ("KARVAN_BIND", "localhost"),
            ("KARVAN_PUBLIC_URL", "alumni.example.org"),
            ("KARVAN_PUBLIC_URL", "ftp://alumni.example.org"),
            ("KARVAN_TIME_ZONE", "Mars/Olympus"),
            ("KARVAN_MAIL_FROM", "not an address"),
            ("KARVAN_DIGEST_SCHEDULE", "every monday"),
            ("RUST_LOG", "karvan=loud"),
            ("DATABASE_URL", "mysql://x@y/z"),
            ("SMTP_URL", "http://mail"),
            ("KARVAN_JWT_SECRET", "short"),
            ("KARVAN_DB_POOL_SIZE", "0"),
            ("KARVAN_DB_POOL_TIMEOUT_MS", "soon"),
            ("KARVAN_DKIM_KEY_FILE", "/nonexistent/dkim.key"),
            ("SMTP_URL", "smtp://mail.example.org?tls=sometimes"),
            ("KARVAN_UNSUBSCRIBE_MAILTO", "not-an-address"),
        ];
        for (variable, value) in cases {
            let err = settings(&[(variable, value)]).expect_err(variable);
            assert_eq!(err.variable, variable, "{value}");
            assert!(err.to_string().starts_with(variable), "{err}");
            assert!(!err.to_string().contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn a_dkim_key_needs_a_selector_and_must_parse() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.key");
        std::fs::write(
            &bad,
            "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----\n",
        )
        .unwrap();
        let bad = bad.to_str().unwrap();
        let err = settings(&[("KARVAN_DKIM_KEY_FILE", bad), ("KARVAN_DKIM_SELECTOR", "k1")]).unwrap_err();
        assert_eq!(err.variable, "KARVAN_DKIM_KEY_FILE");
        let good = dir.path().join("good.key");
        std::fs::write(&good, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap();
        let good = good.to_str().unwrap();
        let err = settings(&[("KARVAN_DKIM_KEY_FILE", good)]).unwrap_err();
        assert_eq!(err.variable, "KARVAN_DKIM_SELECTOR");
        let ok = settings(&[("KARVAN_DKIM_KEY_FILE", good), ("KARVAN_DKIM_SELECTOR", "k1")]).unwrap();
        let dkim = ok.mail.dkim.unwrap();
        assert_eq!((dkim.selector.as_str(), dkim.domain.as_str()), ("k1", "localhost"));
        assert!(!format!("{:?}", dkim).contains("MDEy"), "the key never shows");
    }

    #[test]
    fn database_url_needs_an_explicit_jwt_secret() {
        let err = settings(&[("DATABASE_URL", "postgres://u:p@db/karvan")]).unwrap_err();
        assert_eq!(err.variable, "KARVAN_JWT_SECRET");
        let ok = settings(&[
            ("DATABASE_URL", "postgres://u:p@db/karvan"),
            ("KARVAN_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ])
        .unwrap();
        assert_eq!(ok.database_url(), Some("postgres://u:p@db/karvan"));
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let s = settings(&[
            ("DATABASE_URL", "postgres://karvan:db-pass-XYZ@db/karvan"),
            ("SMTP_URL", "smtps://mailer:smtp-pass-XYZ@mail.example.org"),
            ("KARVAN_JWT_SECRET", "jwt-secret-XYZ-0123456789abcdef0123456789"),
        ])
        .unwrap();
        let debug = format!("{s:?}");
        for secret in ["db-pass-XYZ", "smtp-pass-XYZ", "jwt-secret-XYZ"] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
    }

    #[test]
    fn the_generated_jwt_secret_is_kept_across_starts() {
        let dir = tempfile::tempdir().unwrap();
        let dir_text = dir.path().to_str().unwrap();
        let mut first = settings(&[("KARVAN_DATA_DIR", dir_text)]).unwrap();
        first.resolve_jwt_secret().unwrap();
        let mut second = settings(&[("KARVAN_DATA_DIR", dir_text)]).unwrap();
        second.resolve_jwt_secret().unwrap();
        let a = first.jwt_secret.unwrap();
        let b = second.jwt_secret.unwrap();
        assert!(a.expose_secret().len() >= MIN_JWT_SECRET_BYTES);
        assert_eq!(a.expose_secret(), b.expose_secret());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("jwt-secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "secret readable by others: {mode:o}");
    }
}
