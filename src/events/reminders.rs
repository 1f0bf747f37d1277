//! The reminder ticker in `serve`: every few minutes, queue the day-before
//! reminders that have come due (once each: see `store::queue_reminders`).

use std::time::Duration;

use tokio::sync::watch;

use crate::db::{self, DbPool};
use crate::email::MailContext;
use crate::events::store;

const EVERY: Duration = Duration::from_secs(300);

pub async fn run(pool: DbPool, mail: MailContext, mut stopped: watch::Receiver<bool>) {
    loop {
        let mail = mail.clone();
        match db::run(&pool, move |conn| {
            store::queue_reminders(conn, &mail, chrono::Utc::now())
        })
        .await
        {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "queued event reminders"),
            // The database may be away for a while; the next tick tries again.
            Err(e) => tracing::warn!(error = %e, "could not queue event reminders"),
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stopped.changed() => return,
        }
    }
}
