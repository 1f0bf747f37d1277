//! The database: the connection pool, the one way handlers run queries, the
//! embedded default cluster, and the migrations.

pub mod embedded;
pub mod prepared;
pub mod schema;

use std::time::Duration;

use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{DatabaseSettings, Settings};
use crate::error::AppError;

pub type DbPool = Pool<ConnectionManager<PgConnection>>;
pub type DbConnection = PooledConnection<ConnectionManager<PgConnection>>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Any constant will do, as long as every replica uses the same one.
const MIGRATION_LOCK_KEY: i64 = 0x6b61_7276_616e_0001;

/// The database a process talks to: a URL, and the embedded server behind it
/// when there is one (stopped when this is dropped, if this process owns it).
#[derive(Debug)]
pub struct Database {
    pub url: SecretString,
    pub embedded: Option<embedded::EmbeddedDatabase>,
}

impl Database {
    /// `DATABASE_URL` when set, else the embedded cluster (started if needed).
    /// Blocking: call it from a blocking context.
    pub fn open(settings: &Settings, role: embedded::Role) -> anyhow::Result<Self> {
        match &settings.database {
            DatabaseSettings::Url(url) => Ok(Self {
                url: url.clone(),
                embedded: None,
            }),
            DatabaseSettings::Embedded => {
                let embedded = embedded::EmbeddedDatabase::open(&settings.data_dir, role)?;
                Ok(Self {
                    url: SecretString::from(embedded.url().to_string()),
                    embedded: Some(embedded),
                })
            }
        }
    }
}

/// A pool that opens connections when they are first needed, so the service
/// starts (and `/healthz` answers) even while the database is down; a request
/// that cannot get a connection within `checkout_timeout` answers 503.
pub fn build_pool(url: &SecretString, max_size: u32, checkout_timeout: Duration) -> DbPool {
    let manager = ConnectionManager::<PgConnection>::new(url.expose_secret());
    Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(checkout_timeout)
        // Checked on checkout, so connections that died with a database restart
        // are replaced instead of failing a request.
        .test_on_check_out(true)
        .connection_customizer(Box::new(SessionSettings))
        .build_unchecked(manager)
}

/// Settings every pooled connection starts with.
#[derive(Debug)]
struct SessionSettings;

impl diesel::r2d2::CustomizeConnection<PgConnection, diesel::r2d2::Error> for SessionSettings {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        use diesel::RunQueryDsl;
        // The directory's "nearly spelled" (`%` of pg_trgm) is a trigram
        // similarity of 0.4 or more: Mamedova finds Mammadova, Balouch
        // finds Baloch (the default of 0.3 lets too much in).
        diesel::sql_query("SET pg_trgm.similarity_threshold = 0.4")
            .execute(conn)
            .map(drop)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Runs `work` with a pooled connection on the blocking thread pool, never on
/// an async worker, inside the caller's tracing span.
pub async fn run<T, E, F>(pool: &DbPool, work: F) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<AppError> + Send + 'static,
{
    let pool = pool.clone();
    let span = tracing::Span::current();
    actix_web::web::block(move || {
        let _entered = span.enter();
        let mut conn = pool.get().map_err(AppError::from)?;
        work(&mut conn).map_err(Into::into)
    })
    .await?
}

/// Applies pending migrations. Replicas starting together take turns.
pub fn migrate(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(conn)?;
    let result = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.iter().map(|v| v.to_string()).collect::<Vec<_>>())
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"));
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(conn)?;
    result
}

/// Connects once, outside the pool, for start-up work and CLI commands.
pub fn connect(url: &SecretString) -> anyhow::Result<PgConnection> {
    PgConnection::establish(url.expose_secret()).map_err(|e| anyhow::anyhow!("could not connect to the database: {e}"))
}
