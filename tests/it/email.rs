//! The outbox end to end: queued in a transaction, delivered by the sender
//! to a real SMTP server, retried through refusals and network failures,
//! exactly once across senders and crashes.

use std::time::Duration;

use diesel::prelude::*;
use karvan::email::outbox::{self, OutboxMessage};
use karvan::email::templates::SmtpTest;
use karvan::email::{Attachment, Email, MailContext};

use crate::helpers::{spawn_app_on, spawn_app_with, TestApp};
use crate::mail_server::{RelayMode, TcpRelay, TestSmtp};

/// Settings that make the sender quick enough to test: short polls,
/// timeouts and backoff.
pub fn fast_mail(vars: &mut std::collections::HashMap<String, String>, smtp_url: Option<&str>) {
    for (name, value) in [
        ("KARVAN_MAIL_POLL_MS", "50"),
        ("KARVAN_MAIL_RETRY_BASE_MS", "100"),
        ("KARVAN_SMTP_TIMEOUT_MS", "400"),
        ("KARVAN_MAIL_LEASE_MS", "12000"),
        ("KARVAN_MAIL_FROM", "Alumni Board <board@alumni.test>"),
    ] {
        vars.insert(name.into(), value.into());
    }
    if let Some(url) = smtp_url {
        vars.insert("SMTP_URL".into(), url.into());
    }
}

async fn mail_app(smtp_url: &str) -> TestApp {
    spawn_app_with(|vars| fast_mail(vars, Some(smtp_url))).await
}

fn plain_email(to: &str, key: &str) -> Email {
    Email {
        to: to.into(),
        subject: format!("Message {key}"),
        text_body: format!("Body of {key}"),
        html_body: Some(format!("<p>Body of {key}</p>")),
        headers: Vec::new(),
        attachments: Vec::new(),
        kind: "test".into(),
        idempotency_key: key.into(),
    }
}

fn queue(app: &TestApp, email: &Email) -> Option<uuid::Uuid> {
    outbox::queue(&mut app.conn(), email).expect("queued")
}

fn row(app: &TestApp, key: &str) -> OutboxMessage {
    use karvan::db::schema::email_outbox::dsl::*;
    email_outbox
        .filter(idempotency_key.eq(key))
        .select(OutboxMessage::as_select())
        .get_result(&mut app.conn())
        .expect("the row exists")
}

async fn wait_for_status(app: &TestApp, key: &str, status: &str) -> OutboxMessage {
    for _ in 0..400 {
        let current = row(app, key);
        if current.status == status {
            return current;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{key} never became {status}: {:?}", row(app, key));
}

#[tokio::test]
async fn a_queued_template_mail_arrives_with_its_parts_headers_and_attachment() {
    let smtp = TestSmtp::start();
    let app = mail_app(&smtp.url()).await;
    let mail = MailContext {
        association_name: "Pakistan–Azerbaijan Exchange Alumni".into(),
        public_url: url::Url::parse("https://alumni.example.org/").unwrap(),
        time_zone: chrono_tz::UTC,
        unsubscribe: None,
    };
    let email = Email::render(
        &SmtpTest {
            requested_at: "2026-11-27T10:00:00Z".into(),
        },
        &mail,
        "Aysel Məmmədova <aysel@example.org>",
        "template-test",
    )
    .unwrap()
    .with_attachment(Attachment {
        filename: "reunion.ics".into(),
        content_type: "text/calendar; charset=utf-8".into(),
        content: b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".to_vec(),
    });
    let id = queue(&app, &email).expect("a new row");

    let received = smtp.wait_for(1).await;
    let message = &received[0];
    assert_eq!(message.to, vec!["aysel@example.org".to_string()]);
    assert_eq!(
        message.header("Subject").unwrap(),
        "Test message from Pakistan–Azerbaijan Exchange Alumni"
    );
    assert_eq!(message.header("From").unwrap(), r#""Alumni Board" <board@alumni.test>"#);
    assert_eq!(message.header("To").unwrap(), "Aysel Məmmədova <aysel@example.org>");
    assert_eq!(message.header("Message-ID").unwrap(), format!("<{id}@alumni.test>"));
    assert!(message.header("List-Unsubscribe").is_none(), "transactional mail");

    let parsed = message.parsed();
    assert_eq!(parsed.ctype.mimetype, "multipart/mixed");
    let alternative = &parsed.subparts[0];
    assert_eq!(alternative.ctype.mimetype, "multipart/alternative");
    let text = alternative.subparts[0].get_body().unwrap();
    let html = alternative.subparts[1].get_body().unwrap();
    assert_eq!(alternative.subparts[0].ctype.mimetype, "text/plain");
    assert_eq!(alternative.subparts[1].ctype.mimetype, "text/html");
    assert!(text.contains("2026-11-27T10:00:00Z") && text.contains("https://alumni.example.org/"));
    assert!(
        html.contains(r#"href="https://alumni.example.org/""#),
        "links use the public URL: {html}"
    );
    let attachment = &parsed.subparts[1];
    assert_eq!(attachment.ctype.mimetype, "text/calendar");
    assert_eq!(
        attachment.get_body_raw().unwrap(),
        b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    );
    assert!(attachment
        .get_content_disposition()
        .params
        .get("filename")
        .is_some_and(|f| f == "reunion.ics"));

    let sent = wait_for_status(&app, "template-test", "sent").await;
    assert_eq!(sent.attempts, 1);
    assert!(sent.sent_at.is_some() && sent.last_error.is_none() && sent.claim_token.is_none());
}

#[tokio::test]
async fn the_same_key_queued_twice_is_delivered_once_and_a_rollback_queues_nothing() {
    let smtp = TestSmtp::start();
    let app = mail_app(&smtp.url()).await;
    assert!(queue(&app, &plain_email("omar@example.org", "welcome:omar")).is_some());
    assert!(queue(&app, &plain_email("omar@example.org", "welcome:omar")).is_none());

    // Mail queued in a transaction that fails is never sent.
    let mut conn = app.conn();
    let result: Result<(), diesel::result::Error> = conn.transaction(|conn| {
        outbox::queue(conn, &plain_email("farid@example.org", "rolled-back")).unwrap();
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert!(result.is_err());

    queue(&app, &plain_email("leyla@example.org", "after"));
    let received = smtp.wait_for(2).await;
    wait_for_status(&app, "after", "sent").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received_now = smtp.received();
    assert_eq!(received_now.len(), 2, "{received:?}");
    let to: Vec<_> = received_now.iter().map(|m| m.to[0].clone()).collect();
    assert_eq!(to.iter().filter(|t| *t == "omar@example.org").count(), 1);
    assert!(!to.contains(&"farid@example.org".to_string()));
}

#[tokio::test]
async fn temporary_refusals_are_retried_until_delivered() {
    let smtp = TestSmtp::start();
    smtp.refuse_next(2, 451);
    let app = mail_app(&smtp.url()).await;
    queue(&app, &plain_email("sana@example.org", "refused-twice"));
    let sent = wait_for_status(&app, "refused-twice", "sent").await;
    assert_eq!(sent.attempts, 3);
    assert_eq!(smtp.refused(), 2);
    assert_eq!(smtp.received().len(), 1);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("karvan_mail_retried_total 2"), "{metrics}");
    assert!(metrics.contains("karvan_mail_sent_total 1"), "{metrics}");
}

#[tokio::test]
async fn dropped_and_unanswered_connections_are_retried_until_delivered() {
    let smtp = TestSmtp::start();
    let relay = TcpRelay::start(smtp.port, RelayMode::Drop);
    let app = mail_app(&relay.url()).await;
    queue(&app, &plain_email("kamran@example.org", "network"));

    // The server drops the connection: retried.
    wait_until(|| row(&app, "network").attempts >= 2).await;
    assert_eq!(row(&app, "network").status, "pending");
    assert!(row(&app, "network").last_error.is_some());
    // The server accepts but never answers: the timeout ends the attempt.
    relay.set_mode(RelayMode::Silent);
    let before = row(&app, "network").attempts;
    wait_until(|| row(&app, "network").attempts >= before + 2).await;
    assert!(smtp.received().is_empty());
    // The server recovers: delivered, once.
    relay.set_mode(RelayMode::Forward);
    wait_for_status(&app, "network", "sent").await;
    assert_eq!(smtp.wait_for(1).await.len(), 1);
}

#[tokio::test]
async fn mail_to_a_stopped_server_is_delivered_once_it_starts() {
    // A port with nothing listening: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = mail_app(&format!("smtp://127.0.0.1:{port}")).await;
    queue(&app, &plain_email("zainab@example.org", "server-down"));
    wait_until(|| row(&app, "server-down").attempts >= 2).await;
    assert_eq!(row(&app, "server-down").status, "pending");

    let smtp = TestSmtp::start_on(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap());
    wait_for_status(&app, "server-down", "sent").await;
    assert_eq!(smtp.received().len(), 1);
}

#[tokio::test]
async fn a_permanent_refusal_fails_after_the_last_attempt_and_an_admin_can_retry() {
    let smtp = TestSmtp::start();
    smtp.refuse_all(550);
    let app = spawn_app_with(|vars| {
        fast_mail(vars, Some(&smtp.url()));
        vars.insert("KARVAN_MAIL_MAX_ATTEMPTS".into(), "3".into());
    })
    .await;
    queue(&app, &plain_email("nobody@example.org", "bounces"));
    let failed = wait_for_status(&app, "bounces", "failed").await;
    assert_eq!(failed.attempts, 3);
    assert!(
        failed.last_error.as_deref().unwrap_or_default().contains("550"),
        "{failed:?}"
    );
    assert_eq!(smtp.refused(), 3);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("karvan_mail_failed_total 1"), "{metrics}");
    assert!(
        metrics.contains(r#"karvan_mail_queue_messages{status="failed"} 1"#),
        "{metrics}"
    );

    // The admin fixes the cause and retries: delivered.
    smtp.accept_all();
    let (listed, total) = outbox::list(&mut app.conn(), Some("failed"), 1, 20).unwrap();
    assert_eq!((listed.len(), total), (1, 1));
    assert!(outbox::retry(&mut app.conn(), failed.id).unwrap());
    assert!(
        !outbox::retry(&mut app.conn(), failed.id).unwrap(),
        "only a failed row is retried"
    );
    let sent = wait_for_status(&app, "bounces", "sent").await;
    assert_eq!(sent.attempts, 1, "a retry starts a fresh set of attempts");
    assert_eq!(smtp.received().len(), 1);
}

#[tokio::test]
async fn two_senders_on_one_queue_deliver_every_message_exactly_once() {
    let smtp = TestSmtp::start();
    // Small batches, so the two senders really compete for rows.
    let small_batches = |vars: &mut std::collections::HashMap<String, String>| {
        fast_mail(vars, Some(&smtp.url()));
        vars.insert("KARVAN_MAIL_BATCH".into(), "10".into());
    };
    let first = spawn_app_with(small_batches).await;
    let second = spawn_app_on(&first.db_url, small_batches).await;
    let mut conn = first.conn();
    conn.transaction(|conn| {
        for n in 0..300 {
            outbox::queue(
                conn,
                &plain_email(&format!("member{n}@example.org"), &format!("bulk:{n}")),
            )
            .unwrap();
        }
        diesel::QueryResult::Ok(())
    })
    .unwrap();
    let received = smtp.wait_for(300).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received_now = smtp.received();
    assert_eq!(received_now.len(), 300, "{}", received.len());
    let mut recipients: Vec<_> = received_now.iter().map(|m| m.to[0].clone()).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 300, "no message twice");
    let stats = outbox::stats(&mut conn).unwrap();
    assert_eq!((stats.sent, stats.pending, stats.sending), (300, 0, 0));
    let first_sent: f64 = sent_counter(&first).await;
    let second_sent: f64 = sent_counter(&second).await;
    assert_eq!(first_sent + second_sent, 300.0);
    assert!(
        first_sent > 0.0 && second_sent > 0.0,
        "both senders took part: {first_sent} + {second_sent}"
    );
    drop(second);
}

#[tokio::test]
async fn a_message_claimed_by_a_crashed_sender_is_delivered_after_its_lease_expires() {
    let smtp = TestSmtp::start();
    // A sender that claims and then dies: the row stays `sending` with its lease.
    let (name, url) = crate::helpers::create_test_database();
    let mut conn = PgConnection::establish(&url).unwrap();
    outbox::queue(&mut conn, &plain_email("nigar@example.org", "orphaned")).unwrap();
    let claimed = outbox::claim_due(&mut conn, uuid::Uuid::new_v4(), 10, Duration::from_secs(5), 14).unwrap();
    assert_eq!(claimed.len(), 1);

    let app = spawn_app_on(&url, |vars| fast_mail(vars, Some(&smtp.url()))).await;
    // Several polls of the running sender, well inside the lease.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(smtp.received().is_empty(), "not taken over while the lease holds");
    assert_eq!(row(&app, "orphaned").status, "sending");
    wait_for_status(&app, "orphaned", "sent").await;
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(row(&app, "orphaned").attempts, 2);
    drop(app);
    crate::helpers::drop_test_database(&name);
}

#[tokio::test]
async fn a_pooled_connection_closed_by_the_server_is_replaced_not_reused() {
    let smtp = TestSmtp::start();
    let relay = TcpRelay::start(smtp.port, RelayMode::Forward);
    let app = mail_app(&relay.url()).await;
    queue(&app, &plain_email("tariq@example.org", "first"));
    wait_for_status(&app, "first", "sent").await;
    // The server closes the idle pooled connection, as its idle timeout would.
    relay.cut_all();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    queue(&app, &plain_email("tariq@example.org", "second"));
    let second = wait_for_status(&app, "second", "sent").await;
    assert_eq!(second.attempts, 1, "sent on a new connection the first time");
    assert_eq!(smtp.received().len(), 2);
}

#[tokio::test]
async fn without_smtp_url_mail_becomes_eml_files_a_mail_client_opens() {
    let app = spawn_app_with(|vars| fast_mail(vars, None)).await;
    let id = queue(&app, &plain_email("rashid@example.org", "to-a-file")).unwrap();
    wait_for_status(&app, "to-a-file", "sent").await;
    let mail_dir = app.data_dir().join("mail");
    let files: Vec<_> = std::fs::read_dir(&mail_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].extension().is_some_and(|e| e == "eml"));
    assert!(files[0].to_string_lossy().contains(&id.to_string()));
    let bytes = std::fs::read(&files[0]).unwrap();
    let parsed = mailparse::parse_mail(&bytes).unwrap();
    use mailparse::MailHeaderMap;
    assert_eq!(parsed.headers.get_first_value("Subject").unwrap(), "Message to-a-file");
    assert_eq!(parsed.headers.get_first_value("To").unwrap(), "rashid@example.org");
    assert_eq!(parsed.subparts[0].get_body().unwrap().trim(), "Body of to-a-file");
}

#[tokio::test]
async fn bulk_mail_carries_one_click_unsubscribe_headers() {
    let smtp = TestSmtp::start();
    let app = mail_app(&smtp.url()).await;
    let bulk = plain_email("hina@example.org", "digest:2026-W48:hina").with_list_unsubscribe(
        "https://alumni.example.org/unsubscribe?token=abc",
        Some("unsubscribe@alumni.example.org"),
    );
    queue(&app, &bulk);
    let received = smtp.wait_for(1).await;
    assert_eq!(
        received[0].header("List-Unsubscribe").unwrap(),
        "<https://alumni.example.org/unsubscribe?token=abc>, <mailto:unsubscribe@alumni.example.org?subject=unsubscribe>"
    );
    assert_eq!(
        received[0].header("List-Unsubscribe-Post").unwrap(),
        "List-Unsubscribe=One-Click"
    );
}

async fn sent_counter(app: &TestApp) -> f64 {
    let metrics = app.get("/metrics").await.text().await.unwrap();
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("karvan_mail_sent_total "))
        .unwrap_or("0")
        .parse()
        .unwrap()
}

/// Polls a synchronous condition for up to twenty seconds.
async fn wait_until(condition: impl Fn() -> bool) {
    for _ in 0..400 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the condition never held");
}

/// A sender on a database of its own holding `count` queued messages
/// (keys `<label>:<n>`), sending to `smtp_url` with the fast test settings
/// and `settings`; the database's name, to drop it.
fn queued_for(
    smtp_url: &str,
    settings: &[(&str, &str)],
    count: usize,
    label: &str,
) -> (karvan::email::sender::Sender, PgConnection, String) {
    let (name, url) = crate::helpers::create_test_database();
    let mut vars = std::collections::HashMap::new();
    fast_mail(&mut vars, Some(smtp_url));
    vars.insert("DATABASE_URL".to_string(), url.clone());
    vars.insert(
        "KARVAN_JWT_SECRET".to_string(),
        crate::helpers::TEST_JWT_SECRET.to_string(),
    );
    for (key, value) in settings {
        vars.insert(key.to_string(), value.to_string());
    }
    let settings = crate::helpers::settings_from(&vars);
    let pool = karvan::db::build_pool(&secrecy::SecretString::from(url.clone()), 2, Duration::from_secs(5));
    let mut conn = PgConnection::establish(&url).unwrap();
    for n in 0..count {
        outbox::queue(
            &mut conn,
            &plain_email(&format!("m{n}@example.org"), &format!("{label}:{n}")),
        )
        .unwrap();
    }
    let sender = karvan::email::sender::Sender::new(
        pool,
        karvan::email::transport::Transport::from_settings(&settings).unwrap(),
        settings.mail.clone(),
        settings.mail_from.clone(),
        karvan::metrics::Metrics::new().mail.clone(),
    )
    .unwrap();
    (sender, conn, name)
}

#[tokio::test]
async fn a_batch_stops_early_when_the_server_is_down_and_puts_the_rest_back_untried() {
    let smtp = TestSmtp::start();
    let relay = TcpRelay::start(smtp.port, RelayMode::Silent);
    // A lease long enough that only the failures in a row can stop the batch.
    let (sender, mut conn, name) = queued_for(
        &relay.url(),
        &[("KARVAN_SMTP_CONCURRENCY", "2"), ("KARVAN_MAIL_LEASE_MS", "600000")],
        10,
        "down",
    );

    let outcome = sender.send_batch().await.unwrap();
    assert_eq!(
        (outcome.claimed, outcome.sent, outcome.retrying, outcome.failed),
        (10, 0, 10, 0)
    );
    let rows: Vec<OutboxMessage> = karvan::db::schema::email_outbox::table
        .select(OutboxMessage::as_select())
        .load(&mut conn)
        .unwrap();
    assert!(rows.iter().all(|r| r.status == "pending" && r.claim_token.is_none()));
    let tried: Vec<_> = rows.iter().filter(|r| r.attempts == 1).collect();
    let untried: Vec<_> = rows.iter().filter(|r| r.attempts == 0).collect();
    assert_eq!(tried.len(), 2, "as many as run at once: {rows:?}");
    assert!(tried
        .iter()
        .all(|r| r.last_error.as_deref().unwrap_or_default().contains("SMTP")));
    assert_eq!(untried.len(), 8);
    assert!(untried.iter().all(|r| r.last_error.is_none()));

    // The server comes back: everything goes out.
    relay.set_mode(RelayMode::Forward);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let total = sender.drain(|_| {}).await.unwrap();
    assert_eq!(total.sent, 10);
    assert_eq!(smtp.received().len(), 10);
    drop(conn);
    crate::helpers::drop_test_database(&name);
}

/// The sender claims a batch while the one before is on the wire; when the
/// server is slow, that batch waits, and its lease is renewed before its
/// sends begin, so none of it is put back for want of time.
#[tokio::test]
async fn a_batch_claimed_ahead_of_a_slow_server_gets_its_lease_renewed_and_is_sent_whole() {
    let smtp = TestSmtp::start();
    // Four answers a message, 100 ms each: a batch of 10 takes over 4 s, while
    // a lease of 12 s leaves 6.4 s to start sends (12 s less 14 timeouts).
    let relay = TcpRelay::start(smtp.port, RelayMode::Slow(Duration::from_millis(100)));
    let (sender, conn, name) = queued_for(
        &relay.url(),
        &[("KARVAN_SMTP_CONCURRENCY", "1"), ("KARVAN_MAIL_BATCH", "10")],
        20,
        "slow",
    );

    let mut batches = Vec::new();
    let total = sender.drain(|batch| batches.push(*batch)).await.unwrap();
    assert_eq!((total.sent, total.retrying, total.failed), (20, 0, 0), "{batches:?}");
    assert_eq!(batches.len(), 2, "two whole batches: {batches:?}");
    assert_eq!(smtp.received().len(), 20);
    drop(conn);
    crate::helpers::drop_test_database(&name);
}

#[tokio::test]
async fn with_a_dkim_key_every_message_is_signed_and_bulk_signatures_cover_unsubscribe() {
    use base64::Engine as _;
    let smtp = TestSmtp::start();
    let key_dir = tempfile::tempdir().unwrap();
    let key_file = key_dir.path().join("dkim.key");
    // An Ed25519 private key is any 32 bytes.
    let seed: [u8; 32] = rand::random();
    std::fs::write(&key_file, base64::engine::general_purpose::STANDARD.encode(seed)).unwrap();
    let app = spawn_app_with(|vars| {
        fast_mail(vars, Some(&smtp.url()));
        vars.insert("KARVAN_DKIM_KEY_FILE".into(), key_file.to_str().unwrap().into());
        vars.insert("KARVAN_DKIM_SELECTOR".into(), "karvan2026".into());
    })
    .await;
    queue(&app, &plain_email("arif@example.org", "signed-transactional"));
    queue(
        &app,
        &plain_email("arif@example.org", "signed-bulk")
            .with_list_unsubscribe("https://alumni.test/unsubscribe?t=1", None),
    );
    let received = smtp.wait_for(2).await;
    for message in &received {
        let signature = message.header("DKIM-Signature").expect("signed");
        let tags: std::collections::HashMap<String, String> = signature
            .split(';')
            .filter_map(|tag| {
                let (name, value) = tag.split_once('=')?;
                Some((name.trim().to_string(), value.split_whitespace().collect::<String>()))
            })
            .collect();
        assert_eq!(tags["d"], "alumni.test", "the sender's domain by default");
        assert_eq!(tags["s"], "karvan2026");
        assert_eq!(tags["a"], "ed25519-sha256");
        assert_eq!(tags["c"], "relaxed/relaxed");
        assert!(!tags["b"].is_empty() && !tags["bh"].is_empty());
        let signed: Vec<String> = tags["h"].split(':').map(|h| h.trim().to_ascii_lowercase()).collect();
        for header in ["from", "to", "subject", "date", "message-id"] {
            assert!(signed.contains(&header.to_string()), "{header} in {signed:?}");
        }
        let is_bulk = message.header("List-Unsubscribe").is_some();
        assert_eq!(signed.contains(&"list-unsubscribe".to_string()), is_bulk, "{signed:?}");
        assert_eq!(
            signed.contains(&"list-unsubscribe-post".to_string()),
            is_bulk,
            "{signed:?}"
        );
    }
}
