//! The sender: claims due outbox rows in batches, sends them concurrently,
//! and records each outcome. No database transaction is open while mail is
//! on the wire; the lease on a claimed row is what keeps other senders off it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use lettre::message::Mailbox;
use prometheus::{IntCounter, Registry};
use tokio::sync::watch;
use uuid::Uuid;

use crate::config::MailSettings;
use crate::db::{self, DbPool};
use crate::email::dkim::DkimSigner;
use crate::email::outbox;
use crate::email::smtp::SmtpClient;
use crate::email::transport::{build_message, SendError, Transport};
use crate::error::AppError;

/// Counters of what the sender did, on the application's registry.
#[derive(Clone)]
pub struct MailMetrics {
    pub sent: IntCounter,
    pub failed: IntCounter,
    pub retried: IntCounter,
}

impl MailMetrics {
    pub fn register(registry: &Registry) -> Self {
        let counter = |name: &str, help: &str| {
            let counter = IntCounter::new(name, help).expect("valid metric");
            registry
                .register(Box::new(counter.clone()))
                .expect("each metric registered once");
            counter
        };
        Self {
            sent: counter("mail_sent_total", "Messages delivered"),
            failed: counter("mail_failed_total", "Messages given up on after their last attempt"),
            retried: counter("mail_retried_total", "Failed attempts that will be retried"),
        }
    }
}

/// The outcome of one batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchOutcome {
    pub claimed: usize,
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

pub struct Sender {
    pool: DbPool,
    transport: Arc<Transport>,
    settings: MailSettings,
    from: Mailbox,
    dkim: Option<DkimSigner>,
    metrics: MailMetrics,
}

impl Sender {
    pub fn new(
        pool: DbPool,
        transport: Transport,
        settings: MailSettings,
        from: Mailbox,
        metrics: MailMetrics,
    ) -> anyhow::Result<Self> {
        let dkim = match &settings.dkim {
            Some(dkim) => Some(DkimSigner::new(dkim).map_err(|e| anyhow::anyhow!("KARVAN_DKIM_KEY_FILE: {e}"))?),
            None => None,
        };
        Ok(Self {
            pool,
            transport: Arc::new(transport),
            settings,
            from,
            dkim,
            metrics,
        })
    }

    /// Sends until `shutdown` turns true; then finishes the sends in flight
    /// (each bounded by timeouts), puts the rest of its batch back in the
    /// queue, and returns.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(
            transport = match self.transport.mail_dir() {
                Some(_) => "files",
                None => "smtp",
            },
            "mail sender started"
        );
        while !*shutdown.borrow() {
            if let Err(e) = self.send_while_full(Some(&shutdown), &mut |_| {}).await {
                tracing::warn!(error = %e, "mail sender could not reach the database; will retry");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
                changed = shutdown.changed() => {
                    // The application that owned the sender is gone: stop too.
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        self.transport.close().await;
        tracing::info!("mail sender stopped");
    }

    /// Sends everything due now, batch after batch; `progress` hears each.
    pub async fn drain(&self, mut progress: impl FnMut(&BatchOutcome)) -> Result<BatchOutcome, AppError> {
        let mut total = BatchOutcome::default();
        loop {
            let outcome = self.send_while_full(None, &mut progress).await?;
            if outcome.claimed == 0 {
                return Ok(total);
            }
            total.add(&outcome);
        }
    }

    /// Sends batch after batch while they come full (more is due at once),
    /// claiming the next batch while the current one is on the wire, so the
    /// SMTP connections never wait for the database; `progress` hears each.
    async fn send_while_full(
        &self,
        stop: Option<&watch::Receiver<bool>>,
        progress: &mut impl FnMut(&BatchOutcome),
    ) -> Result<BatchOutcome, AppError> {
        let stopping = || stop.is_some_and(|stop| *stop.borrow());
        let mut total = BatchOutcome::default();
        let mut batch = self.claim().await?;
        while !batch.rows.is_empty() {
            let full = batch.rows.len() as i64 >= self.settings.batch_size;
            let next = async {
                match full && !stopping() {
                    true => Some(self.claim().await),
                    false => None,
                }
            };
            let (outcome, next) = futures_util::join!(self.send_claimed(batch, stop), next);
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(e) => {
                    // The next batch goes back at once, not at its lease's end.
                    if let Some(Ok(next)) = next {
                        let ids = next.rows.iter().map(|row| row.id).collect();
                        if let Err(e) = self.put_back(next.token, ids).await {
                            tracing::warn!(error = %e, "could not put back a claimed batch: it is sent when its lease ends");
                        }
                    }
                    return Err(e);
                }
            };
            total.add(&outcome);
            progress(&outcome);
            match next {
                // After a stop, the claimed batch is put back by sending it.
                Some(next) => batch = self.renewed(next?).await,
                None => break,
            }
        }
        Ok(total)
    }

    /// Claims one batch, sends it, records what happened.
    ///
    /// Sending stops early, and the rest of the batch goes back to the queue
    /// without counting as an attempt, when the lease is about to run out (so
    /// no message is sent after another sender may have taken it over) or
    /// when as many sends in a row have failed as run at once (the server is
    /// down: no need to wait out a timeout per message).
    pub async fn send_batch(&self) -> Result<BatchOutcome, AppError> {
        let batch = self.claim().await?;
        self.send_claimed(batch, None).await
    }

    /// Claims the due rows of one batch, under a new lease.
    async fn claim(&self) -> Result<Claimed, AppError> {
        let token = Uuid::new_v4();
        let settings = &self.settings;
        let (limit, lease, max_attempts) = (settings.batch_size, settings.lease, settings.max_attempts);
        let claimed_at = Instant::now();
        let rows = db::run(&self.pool, move |conn| {
            outbox::claim_due(conn, token, limit, lease, max_attempts)
        })
        .await?;
        Ok(Claimed {
            token,
            rows,
            claimed_at,
        })
    }

    /// A batch claimed ahead, its lease renewed if it waited for the one
    /// before (its time to start sends was running out meanwhile). Rows
    /// another sender took over after the lease ran out are left to it.
    async fn renewed(&self, batch: Claimed) -> Claimed {
        if batch.rows.is_empty() || batch.claimed_at.elapsed() < Duration::from_secs(1) {
            return batch;
        }
        let (token, lease) = (batch.token, self.settings.lease);
        let renewed_at = Instant::now();
        match db::run(&self.pool, move |conn| outbox::renew_lease(conn, token, lease)).await {
            Ok(kept) => {
                let kept: std::collections::HashSet<Uuid> = kept.into_iter().collect();
                Claimed {
                    token,
                    rows: batch.rows.into_iter().filter(|row| kept.contains(&row.id)).collect(),
                    claimed_at: renewed_at,
                }
            }
            // Still safe on the old lease: no send starts too late for it.
            Err(e) => {
                tracing::warn!(error = %e, "could not renew the lease of a batch claimed ahead");
                batch
            }
        }
    }

    /// Puts claimed rows back in the queue, due at once, as not attempted.
    async fn put_back(&self, token: Uuid, ids: Vec<Uuid>) -> Result<usize, AppError> {
        db::run(&self.pool, move |conn| outbox::release(conn, token, &ids, Utc::now())).await
    }

    /// Sends a claimed batch and records what happened; stops early once
    /// `stop` turns true (at shutdown), so the process need not wait for a
    /// whole batch.
    async fn send_claimed(
        &self,
        batch: Claimed,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<BatchOutcome, AppError> {
        let Claimed {
            token,
            rows,
            claimed_at,
        } = batch;
        if rows.is_empty() {
            return Ok(BatchOutcome::default());
        }
        let settings = &self.settings;
        let lease = settings.lease;
        // No send may start later than this: a whole send (bounded by the SMTP
        // timeouts) then ends before the lease does.
        let whole_send = settings.smtp_timeout * SmtpClient::TIMEOUTS_PER_SEND;
        let lease_end = claimed_at + lease;
        let send_by = lease_end.checked_sub(whole_send).unwrap_or(claimed_at);
        let failures_in_a_row = AtomicUsize::new(0);

        let domain = self.from.email.domain().to_string();
        let mut attempts = futures_util::stream::iter(rows)
            .map(|row| {
                let message = build_message(&row, &self.from, &domain, self.dkim.as_ref());
                let failures_in_a_row = &failures_in_a_row;
                async move {
                    if Instant::now() > send_by
                        || failures_in_a_row.load(Ordering::Relaxed) >= settings.concurrency
                        || stop.is_some_and(|stop| *stop.borrow())
                    {
                        return (row, Attempt::NotMade);
                    }
                    let result = match message {
                        Ok(message) => self.transport.send(&row, message).await,
                        Err(e) => Err(e),
                    };
                    match &result {
                        Ok(()) => failures_in_a_row.store(0, Ordering::Relaxed),
                        Err(_) => {
                            failures_in_a_row.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    (row, Attempt::Made(result))
                }
            })
            .buffer_unordered(settings.concurrency);

        let mut outcome = BatchOutcome::default();
        let mut record = BatchRecord::default();
        let mut last_write = Instant::now();
        // Deliveries written as the batch goes, one write at a time, beside
        // the sends rather than between them.
        let mut writing: Option<SentWrite> = None;
        while let Some((row, attempt)) = attempts.next().await {
            outcome.claimed += 1;
            match attempt {
                Attempt::Made(Ok(())) => {
                    outcome.sent += 1;
                    record.sent.push(row.id);
                }
                Attempt::NotMade => {
                    outcome.retrying += 1;
                    record.released.push(row.id);
                }
                Attempt::Made(Err(error)) => {
                    let retry_at = (!error.unsendable && row.attempts < settings.max_attempts)
                        .then(|| Utc::now() + retry_delay(row.attempts, settings.retry_base));
                    if retry_at.is_some() {
                        outcome.retrying += 1;
                        tracing::warn!(id = %row.id, kind = %row.kind, attempt = row.attempts, error = %error, "mail not delivered; will retry");
                    } else {
                        outcome.failed += 1;
                        tracing::error!(id = %row.id, kind = %row.kind, attempt = row.attempts, error = %error, "mail not delivered; giving up");
                    }
                    record.failed.push((row.id, error.message, retry_at));
                }
            }
            // Delivered messages are written as the batch goes, not only at
            // its end: a crash then re-sends at most a second's worth.
            if record.sent.len() >= 250 || (!record.sent.is_empty() && last_write.elapsed() > Duration::from_secs(1)) {
                if let Some(previous) = writing.take() {
                    // One that did not go in is written with the rest, with retries.
                    if let Err(unwritten) = previous.finish().await {
                        record.sent.extend(unwritten);
                    }
                }
                writing = Some(SentWrite::start(&self.pool, token, std::mem::take(&mut record.sent)));
                last_write = Instant::now();
            }
        }
        drop(attempts);
        if let Some(previous) = writing.take() {
            if let Err(unwritten) = previous.finish().await {
                record.sent.extend(unwritten);
            }
        }

        // Rows put back because the server looks down wait like a retry;
        // rows put back at shutdown or at the lease's end are due at once.
        let release_at = if failures_in_a_row.load(Ordering::Relaxed) >= settings.concurrency {
            Utc::now() + retry_delay(1, settings.retry_base)
        } else {
            Utc::now()
        };
        self.record(token, record, release_at, lease_end).await?;
        self.metrics.sent.inc_by(outcome.sent as u64);
        self.metrics.retried.inc_by(outcome.retrying as u64);
        self.metrics.failed.inc_by(outcome.failed as u64);
        Ok(outcome)
    }

    /// Writes outcomes of the batch. While the database is away it keeps
    /// trying until the lease ends (after that another sender may have the
    /// rows), then a while longer, since an unwritten delivery means the
    /// message will be sent again.
    async fn record(
        &self,
        token: Uuid,
        record: BatchRecord,
        release_at: DateTime<Utc>,
        lease_end: Instant,
    ) -> Result<(), AppError> {
        if record.sent.is_empty() && record.released.is_empty() && record.failed.is_empty() {
            return Ok(());
        }
        let expected = record.sent.len();
        let record = Arc::new(record);
        let give_up_at = lease_end + self.settings.lease;
        let mut delay = Duration::from_millis(200);
        loop {
            let record = record.clone();
            let result = db::run(&self.pool, move |conn| {
                conn.build_transaction().run(|conn| {
                    let marked = outbox::mark_sent(conn, token, &record.sent)?;
                    outbox::release(conn, token, &record.released, release_at)?;
                    for (id, error, retry_at) in &record.failed {
                        outbox::mark_attempt_failed(conn, token, *id, error, *retry_at)?;
                    }
                    diesel::QueryResult::Ok(marked)
                })
            })
            .await;
            match result {
                Ok(marked) => {
                    if marked < expected {
                        tracing::warn!(
                            expected,
                            marked,
                            "some delivered messages had been taken over by another sender: they may arrive twice"
                        );
                    }
                    return Ok(());
                }
                Err(e) if Instant::now() < give_up_at => {
                    tracing::warn!(error = %e, "could not record sent mail; trying again");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Rows claimed under one lease, not yet sent.
struct Claimed {
    token: Uuid,
    rows: Vec<outbox::OutboxMessage>,
    claimed_at: Instant,
}

impl BatchOutcome {
    fn add(&mut self, other: &BatchOutcome) {
        self.claimed += other.claimed;
        self.sent += other.sent;
        self.retrying += other.retrying;
        self.failed += other.failed;
    }
}

/// A write of delivered rows, running on a blocking thread from the moment
/// it starts (not only when awaited).
struct SentWrite {
    ids: Arc<Vec<Uuid>>,
    running: tokio::task::JoinHandle<Result<usize, AppError>>,
}

impl SentWrite {
    fn start(pool: &DbPool, token: Uuid, ids: Vec<Uuid>) -> Self {
        let ids = Arc::new(ids);
        let (pool, written) = (pool.clone(), ids.clone());
        let running = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            Ok(outbox::mark_sent(&mut conn, token, &written)?)
        });
        Self { ids, running }
    }

    /// Waits for the write; on failure, gives back the rows it was writing.
    async fn finish(self) -> Result<(), Vec<Uuid>> {
        match self.running.await {
            Ok(Ok(marked)) => {
                if marked < self.ids.len() {
                    tracing::warn!(
                        expected = self.ids.len(),
                        marked,
                        "some delivered messages had been taken over by another sender: they may arrive twice"
                    );
                }
                Ok(())
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not record sent mail; trying again with the batch");
                Err(self.ids.to_vec())
            }
            Err(e) => {
                tracing::warn!(error = %e, "the write of sent mail stopped; trying again with the batch");
                Err(self.ids.to_vec())
            }
        }
    }
}

/// What became of one claimed row.
enum Attempt {
    Made(Result<(), SendError>),
    /// Not tried: the batch stopped early.
    NotMade,
}

/// A batch's outcomes, as they are written back.
#[derive(Default)]
struct BatchRecord {
    sent: Vec<Uuid>,
    released: Vec<Uuid>,
    failed: Vec<(Uuid, String, Option<DateTime<Utc>>)>,
}

/// Exponential backoff with ±25% jitter, so messages that failed together
/// do not all come back at the same moment: base, 2×base, 4×base ... at most
/// four hours.
pub fn retry_delay(attempts: i32, base: Duration) -> chrono::Duration {
    let exponent = attempts.saturating_sub(1).clamp(0, 20) as u32;
    let delay = base
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(Duration::from_secs(4 * 3600));
    let jitter = rand::random_range(0.75..1.25);
    chrono::Duration::from_std(delay.mul_f64(jitter)).unwrap_or(chrono::Duration::hours(4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_and_cover_about_a_day() {
        let base = Duration::from_secs(60);
        let first = retry_delay(1, base).num_seconds();
        assert!((45..=75).contains(&first), "{first}");
        let fifth = retry_delay(5, base).num_seconds();
        assert!((720..=1200).contains(&fifth), "{fifth}");
        let late = retry_delay(40, base).num_seconds();
        assert!(late <= 5 * 3600, "capped: {late}");
        // The default 14 attempts spread over roughly a day.
        let total: i64 = (1..14).map(|a| retry_delay(a, base).num_seconds()).sum();
        assert!((14 * 3600..=34 * 3600).contains(&total), "{total}");
    }
}
