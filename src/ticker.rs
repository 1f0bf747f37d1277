//! The ticker in `serve`: every minute, the timed work that has come due is
//! queued as mail: the day-before reminders of events, the mail of
//! announcements scheduled for now, and the digests whose moment has come
//! in their members' zones (`KARVAN_DIGEST_SCHEDULE`). Each is idempotent (see their queries),
//! so replicas ticking together or a tick after a crash send nothing twice.
//! It also folds the directory's pending word changes into its counts.

use std::time::Duration;

use tokio::sync::watch;

use crate::db::{self, DbPool};
use crate::email::MailContext;
use crate::{announcements, digest, directory, events};

const EVERY: Duration = Duration::from_secs(60);

pub async fn run(pool: DbPool, mail: MailContext, digests: Option<cron::Schedule>, mut stopped: watch::Receiver<bool>) {
    loop {
        let now = chrono::Utc::now();
        let context = mail.clone();
        match db::run(&pool, move |conn| events::store::queue_reminders(conn, &context, now)).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "queued event reminders"),
            // The database may be away for a while; the next tick tries again.
            Err(e) => tracing::warn!(error = %e, "could not queue event reminders"),
        }
        let context = mail.clone();
        match db::run(&pool, move |conn| {
            announcements::store::queue_due_mail(conn, &context, now)
        })
        .await
        {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "mailed scheduled announcements"),
            Err(e) => tracing::warn!(error = %e, "could not mail scheduled announcements"),
        }
        if let Some(schedule) = digests.clone() {
            let context = mail.clone();
            match db::run(&pool, move |conn| {
                digest::schedule::run_due(conn, &context, &schedule, now)
            })
            .await
            {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "queued digests"),
                Err(e) => tracing::warn!(error = %e, "could not run the digests due"),
            }
        }
        if let Err(e) = db::run(&pool, directory::store::fold_word_changes).await {
            // Searches still count exactly, adding the pending changes.
            tracing::warn!(error = %e, "could not fold the directory's word counts");
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stopped.changed() => return,
        }
    }
}
