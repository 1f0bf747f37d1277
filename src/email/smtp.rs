//! SMTP delivery on lettre's client connections, with pooling of our own.
//!
//! lettre's `AsyncSmtpTransport` does not set `TCP_NODELAY`: it writes a
//! message and its terminating `.` separately, so Nagle's algorithm holds the
//! `.` until the server's delayed ACK, about 40 ms per message (168 messages/s
//! at concurrency 8 in `bench/mail.sh`). Here each connection is opened with
//! `TCP_NODELAY` and handed to lettre's `AsyncSmtpConnection`, which still
//! speaks the protocol, STARTTLS and AUTH.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::Message;
use url::Url;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain SMTP (`smtp://`), e.g. a relay on the same machine.
    None,
    /// `smtp://...?tls=opportunistic`: STARTTLS when the server offers it.
    StartTlsOpportunistic,
    /// `smtp://...?tls=required`: STARTTLS or no mail.
    StartTlsRequired,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

#[derive(Clone)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub security: Security,
    credentials: Option<Credentials>,
}

impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{} ({:?}, auth: {})",
            self.host,
            self.port,
            self.security,
            self.credentials.is_some()
        )
    }
}

impl SmtpServer {
    /// Reads `smtp://[user:pass@]host[:port][?tls=required|opportunistic]`
    /// or `smtps://[user:pass@]host[:port]`, as lettre's URLs do.
    pub fn from_url(text: &str) -> Result<Self, String> {
        let url = Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
        let host = url.host_str().ok_or("no host")?.trim_matches(['[', ']']).to_string();
        let tls = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.to_string());
        let security = match (url.scheme(), tls.as_deref()) {
            ("smtps", _) => Security::Implicit,
            ("smtp", None) => Security::None,
            ("smtp", Some("opportunistic")) => Security::StartTlsOpportunistic,
            ("smtp", Some("required")) => Security::StartTlsRequired,
            ("smtp", Some(other)) => return Err(format!("tls={other}: use tls=required or tls=opportunistic")),
            (other, _) => return Err(format!("scheme {other}: use smtp:// or smtps://")),
        };
        let default_port = match security {
            Security::None => 25,
            Security::StartTlsOpportunistic | Security::StartTlsRequired => 587,
            Security::Implicit => 465,
        };
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().to_string();
        let credentials = (!url.username().is_empty())
            .then(|| Credentials::new(decode(url.username()), decode(url.password().unwrap_or_default())));
        Ok(Self {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            credentials,
        })
    }
}

/// A connection waiting for its next message.
struct Idle {
    connection: AsyncSmtpConnection,
    since: Instant,
}

/// Connections are reused while they work. One idle longer than
/// `RECHECK_AFTER` is checked with NOOP first, so a connection the server
/// closed meanwhile is replaced, never used; one idle longer than `IDLE_LIMIT`
/// is closed, below any server's idle timeout.
const RECHECK_AFTER: Duration = Duration::from_secs(1);
const IDLE_LIMIT: Duration = Duration::from_secs(20);

pub struct SmtpClient {
    server: SmtpServer,
    /// Each SMTP operation: connect, and every command's answer.
    timeout: Duration,
    hello: ClientId,
    idle: Mutex<Vec<Idle>>,
}

impl SmtpClient {
    pub fn new(server: SmtpServer, timeout: Duration) -> Self {
        Self {
            server,
            timeout,
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The longest a whole send may take: connect 1, greeting and EHLO 2,
    /// STARTTLS 3, AUTH 2, a NOOP or QUIT on pooled connections 2, the
    /// message 4. The sender keeps a lease longer than this.
    pub const TIMEOUTS_PER_SEND: u32 = 14;

    /// Sends one message on a pooled or new connection.
    pub async fn send(&self, message: &Message) -> Result<(), String> {
        let mut connection = tokio::time::timeout(self.timeout * 10, self.checkout())
            .await
            .map_err(|_| format!("SMTP: no connection within {} s", (self.timeout * 10).as_secs_f32()))??;
        let bytes = message.formatted();
        // MAIL, RCPT, DATA and the message: four answers to wait for.
        match tokio::time::timeout(self.timeout * 4, connection.send(message.envelope(), &bytes)).await {
            Ok(Ok(_)) => {
                self.checkin(connection);
                Ok(())
            }
            // lettre marks the connection broken after any error: not reused.
            Ok(Err(e)) => Err(format!("SMTP: {e}")),
            Err(_) => Err(format!("SMTP: no answer within {} s", (self.timeout * 4).as_secs_f32())),
        }
    }

    fn checkin(&self, connection: AsyncSmtpConnection) {
        if !connection.has_broken() {
            self.lock_idle().push(Idle {
                connection,
                since: Instant::now(),
            });
        }
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn checkout(&self) -> Result<AsyncSmtpConnection, String> {
        loop {
            let Some(mut idle) = self.lock_idle().pop() else {
                return self.connect().await;
            };
            let idle_for = idle.since.elapsed();
            if idle_for > IDLE_LIMIT {
                let _ = tokio::time::timeout(self.timeout, idle.connection.quit()).await;
                continue;
            }
            if idle_for <= RECHECK_AFTER {
                return Ok(idle.connection);
            }
            if let Ok(true) = tokio::time::timeout(self.timeout, idle.connection.test_connected()).await {
                return Ok(idle.connection);
            }
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, String> {
        let timeout = self.timeout;
        let server = &self.server;
        let tls = || TlsParameters::new(server.host.clone()).map_err(|e| format!("TLS setup: {e}"));
        let mut connection = match server.security {
            Security::Implicit => AsyncSmtpConnection::connect_tokio1(
                (server.host.as_str(), server.port),
                Some(timeout),
                &self.hello,
                Some(tls()?),
                None,
            )
            .await
            .map_err(|e| format!("SMTP connect to {}:{}: {e}", server.host, server.port))?,
            _ => {
                let stream = tokio::time::timeout(
                    timeout,
                    tokio::net::TcpStream::connect((server.host.as_str(), server.port)),
                )
                .await
                .map_err(|_| format!("SMTP connect to {}:{}: timed out", server.host, server.port))?
                .map_err(|e| format!("SMTP connect to {}:{}: {e}", server.host, server.port))?;
                stream.set_nodelay(true).map_err(|e| format!("SMTP socket: {e}"))?;
                // The greeting and EHLO.
                tokio::time::timeout(
                    timeout * 2,
                    AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello),
                )
                .await
                .map_err(|_| {
                    format!(
                        "SMTP: no greeting from {}:{} within {} s",
                        server.host,
                        server.port,
                        timeout.as_secs_f32()
                    )
                })?
                .map_err(|e| format!("SMTP: {e}"))?
            }
        };
        let wants_tls = match server.security {
            Security::StartTlsRequired => true,
            Security::StartTlsOpportunistic => connection.can_starttls(),
            Security::None | Security::Implicit => false,
        };
        if wants_tls {
            tokio::time::timeout(timeout * 3, connection.starttls(tls()?, &self.hello))
                .await
                .map_err(|_| "SMTP: STARTTLS timed out".to_string())?
                .map_err(|e| format!("SMTP STARTTLS: {e}"))?;
        }
        if let Some(credentials) = &server.credentials {
            // Never a password in the clear to a server beyond this machine.
            let local = matches!(server.host.as_str(), "localhost" | "127.0.0.1" | "::1");
            if !connection.is_encrypted() && !local {
                connection.abort().await;
                return Err(format!(
                    "SMTP: {} offers no TLS; refusing to send the password in the clear (use smtps:// or ?tls=required)",
                    server.host
                ));
            }
            tokio::time::timeout(
                timeout * 2,
                connection.auth(&[Mechanism::Plain, Mechanism::Login], credentials),
            )
            .await
            .map_err(|_| "SMTP: AUTH timed out".to_string())?
            .map_err(|e| format!("SMTP AUTH: {e}"))?;
        }
        Ok(connection)
    }

    /// Says goodbye on every idle connection (at shutdown).
    pub async fn close_idle(&self) {
        let idle: Vec<Idle> = std::mem::take(&mut *self.lock_idle());
        for mut entry in idle {
            let _ = tokio::time::timeout(self.timeout, entry.connection.quit()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_server_its_security_and_credentials() {
        let plain = SmtpServer::from_url("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (plain.host.as_str(), plain.port, plain.security),
            ("127.0.0.1", 2525, Security::None)
        );
        assert!(plain.credentials.is_none());
        let submission = SmtpServer::from_url("smtp://board%40alumni.org:p%40ss@mail.alumni.org?tls=required").unwrap();
        assert_eq!(
            (submission.port, submission.security),
            (587, Security::StartTlsRequired)
        );
        assert!(submission.credentials.is_some());
        assert!(!format!("{submission:?}").contains("p@ss"), "no password in Debug");
        let implicit = SmtpServer::from_url("smtps://user:pw@mail.alumni.org").unwrap();
        assert_eq!((implicit.port, implicit.security), (465, Security::Implicit));
        assert!(SmtpServer::from_url("smtp://host?tls=sometimes").is_err());
        assert!(SmtpServer::from_url("http://host").is_err());
    }
}
