//! The ticker in `serve`: every minute, the timed work that has come due is
//! queued as mail: the day-before reminders of events, the mail of
//! announcements scheduled for now, and the digests whose moment has come
//! in their members' zones (`KARVAN_DIGEST_SCHEDULE`). Each is idempotent (see their queries),
//! so replicas ticking together or a tick after a crash send nothing twice.
//! It also folds the directory's pending changes into its counts (of name words and universities), and
//! recounts them daily (`directory::store::recount`).

use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::db::{self, DbPool};
use crate::email::MailContext;
use crate::{announcements, digest, directory, events};

const EVERY: Duration = Duration::from_secs(60);
/// How often the directory's counts are recounted.
const RECOUNT_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// `recounted`: whether `Application::build` recounted the directory's
/// counts (if not, the first tick does).
pub async fn run(
    pool: DbPool,
    mail: MailContext,
    digests: Option<cron::Schedule>,
    recounted: bool,
    mut stopped: watch::Receiver<bool>,
) {
    // When the counts were last recounted; `None` to recount now.
    let mut recounted = recounted.then(Instant::now);
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
        if let Err(e) = db::run(&pool, directory::store::fold_count_changes).await {
            // Searches still count exactly, adding the pending changes.
            tracing::warn!(error = %e, "could not fold the directory's counts");
        }
        if recounted.is_none_or(|at| at.elapsed() >= RECOUNT_EVERY) {
            // If it could not run (an import may hold members), the next
            // tick tries again.
            let recount = |conn: &mut _| Ok::<_, crate::error::AppError>(directory::store::recount_and_report(conn));
            match db::run(&pool, recount).await {
                Ok(true) => recounted = Some(Instant::now()),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "could not recount the directory's counts"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stopped.changed() => return,
        }
    }
}
