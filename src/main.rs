//! The `karvan` command: a thin CLI over the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use karvan::app::Application;
use karvan::config::Settings;
use karvan::db::{self, embedded::Role, Database};

#[derive(Parser)]
#[command(name = "karvan", version, about = "Membership service for alumni associations")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web service (and the embedded database, when DATABASE_URL is unset).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => return fail(e),
    };
    karvan::telemetry::init(&settings.log_filter);
    let result = match cli.command {
        Command::Serve => serve(settings),
        Command::Migrate => migrate(&settings),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// One clear line on standard error, and a non-zero exit.
fn fail(error: impl Into<anyhow::Error>) -> ExitCode {
    let error = error.into();
    let line = format!("{error:#}").replace('\n', " ");
    eprintln!("karvan: error: {line}");
    ExitCode::FAILURE
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).await?;
        tracing::info!(address = %app.address(), public_url = %app.public_url(), "karvan listening on http://{}", app.address());
        app.run_until_stopped().await?;
        tracing::info!("karvan stopped");
        Ok(())
    })
}

fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let database = Database::open(settings, Role::Command)?;
    let mut conn = db::connect(&database.url)?;
    let applied = db::migrate(&mut conn)?;
    if applied.is_empty() {
        println!("The database is up to date.");
    } else {
        println!("Applied {} migration(s): {}", applied.len(), applied.join(", "));
    }
    Ok(())
}
