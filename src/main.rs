//! The `karvan` command: a thin CLI over the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
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
    /// Board admins.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The mail queue.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// The register: import the association's roster, export it.
    Members {
        #[command(subcommand)]
        command: MembersCommand,
    },
    /// The digests.
    Digest {
        #[command(subcommand)]
        command: DigestCommand,
    },
    /// Add realistic demo members (for demos and benchmarks).
    Seed {
        /// How many members.
        #[arg(long)]
        members: usize,
        /// The same number gives the same people.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Seed even a database with real members (their password is public).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum MembersCommand {
    /// Import a roster CSV (columns: email, full_name, graduation_year,
    /// university, country, city, profession); new people are invited by mail.
    Import {
        file: std::path::PathBuf,
        /// Report what would happen; save nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the register as CSV (to standard output, or a file).
    Export {
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum DigestCommand {
    /// Compose and queue the period's digests (each member's once), then
    /// send what is queued, as `serve` would.
    Run {
        /// A week (2026-W48: weekly digests) or a month (2026-11: monthly
        /// ones); when left out, this period: each member's own, as the
        /// schedule runs it (members who had theirs get nothing).
        #[arg(long)]
        period: Option<String>,
        /// Count who would get one; queue and send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Queue only: leave the sending to `serve`.
        #[arg(long)]
        no_send: bool,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an active admin; the password is read from standard input, or asked for.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// Messages by status, and the age of the oldest one waiting.
    Status,
    /// Send every failed message again, with a fresh set of attempts.
    RetryFailed,
    /// Send everything due now, then exit.
    Drain,
    /// Queue a test message, to check the mail settings.
    SendTest {
        /// Who gets it.
        #[arg(long)]
        to: String,
        /// How many copies (for load tests).
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
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
        Command::Admin {
            command: AdminCommand::Create { email, name },
        } => create_admin(&settings, &email, &name),
        Command::Outbox { command } => outbox_command(&settings, command),
        Command::Members { command } => members_command(&settings, command),
        Command::Digest { command } => digest_command(&settings, command),
        Command::Seed { members, seed, force } => seed_command(&settings, members, seed, force),
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

/// The database for a command, migrated: commands may run before any `serve`.
fn open_migrated(settings: &Settings) -> anyhow::Result<(Database, diesel::PgConnection)> {
    let database = Database::open(settings, Role::Command)?;
    let mut conn = db::connect(&database.url)?;
    db::migrate(&mut conn)?;
    Ok((database, conn))
}

fn outbox_command(settings: &Settings, command: OutboxCommand) -> anyhow::Result<()> {
    use karvan::email::{outbox, templates::SmtpTest, Email, MailContext};

    let (database, mut conn) = open_migrated(settings)?;
    match command {
        OutboxCommand::Status => {
            let stats = outbox::stats(&mut conn)?;
            println!("pending  {}", stats.pending);
            println!("sending  {}", stats.sending);
            println!("sent     {}", stats.sent);
            println!("failed   {}", stats.failed);
            if stats.pending > 0 {
                println!("oldest pending message: {:.0} s old", stats.oldest_pending_age_seconds);
            }
        }
        OutboxCommand::RetryFailed => {
            let count = outbox::retry_all_failed(&mut conn)?;
            println!("{count} failed message(s) will be sent again.");
        }
        OutboxCommand::SendTest { to, count } => {
            to.parse::<lettre::message::Mailbox>()
                .map_err(|e| anyhow::anyhow!("--to: '{to}' is not a mail address: {e}"))?;
            let mail = MailContext {
                association_name: settings.association_name.clone(),
                public_url: settings.public_url_for(settings.bind),
                time_zone: settings.time_zone,
                unsubscribe: None,
            };
            let requested_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let batch = uuid::Uuid::new_v4();
            diesel::Connection::transaction(&mut conn, |conn| {
                for copy in 0..count {
                    let email = Email::render(
                        &SmtpTest {
                            requested_at: requested_at.clone(),
                        },
                        &mail,
                        to.as_str(),
                        format!("smtp_test:{batch}:{copy}"),
                    )?;
                    outbox::queue(conn, &email).map_err(|e| anyhow::anyhow!("{e}"))?;
                }
                anyhow::Ok(())
            })?;
            println!("Queued {count} test message(s) to {to}; a running `karvan serve` sends them, or run `karvan outbox drain`.");
        }
        OutboxCommand::Drain => {
            drop(conn);
            drain(settings, &database)?;
        }
    }
    Ok(())
}

/// Sends everything due with the same sender `serve` runs, with a progress bar.
fn drain(settings: &Settings, database: &Database) -> anyhow::Result<()> {
    use karvan::email::{outbox, sender::Sender, transport::Transport};

    let pool = db::build_pool(&database.url, 2, settings.db_pool_timeout);
    let metrics = karvan::metrics::Metrics::new();
    let settings = settings.clone();
    actix_web::rt::System::new().block_on(async move {
        let due = db::run(&pool, outbox::due_count)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let sender = Sender::new(
            pool,
            Transport::from_settings(&settings)?,
            settings.mail.clone(),
            settings.mail_from.clone(),
            metrics.mail.clone(),
        )?;
        let bar = indicatif::ProgressBar::new(due.max(0) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} messages  {per_sec}  eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let started = std::time::Instant::now();
        let total = sender
            .drain(|batch| bar.inc(batch.claimed as u64))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        bar.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "Sent {} message(s) in {seconds:.2} s ({:.0}/s); {} will be retried later, {} failed. Peak memory {}.",
            total.sent,
            total.sent as f64 / seconds.max(0.001),
            total.retrying,
            total.failed,
            peak_memory()
        );
        anyhow::Ok(())
    })
}

/// This process's peak resident memory, as the kernel counts it.
fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.1} MB", kib / 1024.0))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The password for a new account: typed twice at a terminal, or the first
/// line of standard input when it is piped.
fn read_new_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Password again: ")?;
        anyhow::ensure!(first == second, "the two passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

fn create_admin(settings: &Settings, email: &str, name: &str) -> anyhow::Result<()> {
    use diesel::Connection;
    use karvan::members::{model::NewMember, store};

    let email = email.trim();
    email
        .parse::<lettre::Address>()
        .map_err(|e| anyhow::anyhow!("--email: '{email}' is not an email address: {e}"))?;
    let name = name.trim();
    anyhow::ensure!(
        (1..=200).contains(&name.chars().count()),
        "--name: must be 1 to 200 characters"
    );
    let password = read_new_password()?;
    if let Some(problem) = karvan::auth::password::policy_violation(&password, email) {
        anyhow::bail!("the password {problem}");
    }
    let hash = actix_web::rt::System::new()
        .block_on(karvan::auth::password::hash(secrecy::SecretString::from(password)))
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let (_database, mut conn) = open_migrated(settings)?;
    let id = conn.transaction(|conn| {
        if store::find_by_email(conn, email)?.is_some() {
            anyhow::bail!("a member with the email {email} exists already");
        }
        let member = store::insert(
            conn,
            &NewMember {
                email,
                password_hash: &hash,
                full_name: name,
                graduation_year: None,
                university: None,
                country: None,
            },
        )?;
        diesel::update(karvan::db::schema::members::table.find(member.id))
            .set((
                karvan::db::schema::members::status.eq("active"),
                karvan::db::schema::members::role.eq("admin"),
                karvan::db::schema::members::email_verified_at.eq(diesel::dsl::now),
                karvan::db::schema::members::approved_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        karvan::audit::record(
            conn,
            None,
            "admin.create",
            ("member", &member.id.to_string()),
            serde_json::json!({"via": "cli", "email": email}),
        )?;
        anyhow::Ok(member.id)
    })?;
    println!("Created the admin {name} <{email}> ({id}); they can sign in now.");
    Ok(())
}

fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {what}  {{per_sec}}  eta {{eta}}"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

fn members_command(settings: &Settings, command: MembersCommand) -> anyhow::Result<()> {
    use karvan::email::MailContext;
    use karvan::roster::{export, import};

    let (database, mut conn) = open_migrated(settings)?;
    match command {
        MembersCommand::Import { file, dry_run } => {
            let bytes = std::fs::read(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let parsed = import::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {}", file.display(), describe(&e)))?;
            let mail = MailContext {
                association_name: settings.association_name.clone(),
                public_url: settings.public_url_for(settings.bind),
                time_zone: settings.time_zone,
                unsubscribe: None,
            };
            let bar = progress_bar(parsed.len() as u64, "rows");
            let report = import::run(&mut conn, &mail, parsed, dry_run, None, &mut |done| {
                bar.set_position(done as u64)
            })
            .map_err(|e| anyhow::anyhow!(describe(&e)))?;
            bar.finish_and_clear();
            if dry_run {
                println!("A trial run: nothing was saved.");
            }
            println!(
                "{} row(s): {} new (invited by mail), {} already members ({} changed), {} skipped.",
                report.rows,
                report.created.len(),
                report.matched.len(),
                report.matched.iter().filter(|m| !m.changed.is_empty()).count(),
                report.skipped.len()
            );
            for skipped in &report.skipped {
                println!(
                    "line {}: skipped{}: {}",
                    skipped.line,
                    skipped.email.as_deref().map(|e| format!(" ({e})")).unwrap_or_default(),
                    skipped.reasons.join("; ")
                );
            }
            if !report.ignored_columns.is_empty() {
                println!("Columns not read: {}", report.ignored_columns.join(", "));
            }
        }
        MembersCommand::Export { output } => {
            let bytes = export::csv(&mut conn).map_err(|e| anyhow::anyhow!(describe(&e)))?;
            karvan::audit::record(
                &mut conn,
                None,
                "members.export",
                ("members", "*"),
                serde_json::json!({}),
            )?;
            match output {
                Some(path) => {
                    std::fs::write(&path, &bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    eprintln!("Wrote {}.", path.display());
                }
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(&bytes)?;
                }
            }
        }
    }
    drop(database);
    Ok(())
}

/// An error of the library as one line: its detail and field errors.
fn describe(e: &karvan::error::AppError) -> String {
    let mut line = e.public_detail().unwrap_or(e.kind.title()).to_string();
    for (field, messages) in &e.field_errors {
        line.push_str(&format!(" {field} {}", messages.join("; ")));
    }
    line
}

fn digest_command(settings: &Settings, command: DigestCommand) -> anyhow::Result<()> {
    use karvan::digest::api::{which, Which};
    use karvan::digest::run::{self, RunOptions};
    use karvan::digest::schedule::{self, Asked};
    use karvan::email::unsubscribe::UnsubscribeKey;
    use karvan::email::MailContext;

    let DigestCommand::Run {
        period,
        dry_run,
        no_send,
    } = command;
    // The digests' unsubscribe links are signed with the service's secret.
    let mut settings = settings.clone();
    settings.resolve_jwt_secret()?;
    let secret = settings
        .jwt_secret
        .clone()
        .ok_or_else(|| anyhow::anyhow!("KARVAN_JWT_SECRET: no secret was resolved"))?;
    let mail = MailContext {
        association_name: settings.association_name.clone(),
        public_url: settings.public_url_for(settings.bind),
        time_zone: settings.time_zone,
        unsubscribe: Some(UnsubscribeKey::from_secret(&secret)),
    };
    let which = which(period.as_deref()).map_err(|e| anyhow::anyhow!(describe(&e)))?;
    let (database, mut conn) = open_migrated(&settings)?;
    let bar = progress_bar(0, "members");
    let started = std::time::Instant::now();
    let now = chrono::Utc::now();
    let mut progress = |_: &karvan::digest::period::Period, done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let runs = match which {
        Which::Period(period) => {
            let options = RunOptions {
                period,
                dry_run,
                trigger: "cli",
                actor: None,
                zones: None,
            };
            run::run(&mut conn, &mail, options, now, &mut |done, total| {
                progress(&period, done, total)
            })
            .map(|run| vec![run])
        }
        // Each member's own period, as the schedule (or, with it off, the
        // calendar) has it: the same as `serve` would run now.
        Which::ThisPeriod => {
            let asked = Asked {
                trigger: "cli",
                actor: None,
                dry_run,
            };
            schedule::run_this_period(
                &mut conn,
                &mail,
                settings.digest_schedule.schedule.as_ref(),
                now,
                asked,
                &mut progress,
            )
        }
    }
    .map_err(|e| anyhow::anyhow!(describe(&e)))?;
    bar.finish_and_clear();
    let verb = if dry_run { "would get" } else { "got" };
    if runs.is_empty() {
        println!("Every member who takes the digest has had this period's: nothing to run.");
    }
    for done in &runs {
        let frequency = done
            .period
            .parse::<karvan::digest::period::Period>()
            .map(|p| p.frequency());
        println!(
            "Digest {}: {} of {} {} members {verb} one; the others had nothing new or had theirs already.",
            done.period,
            done.queued,
            done.considered,
            frequency.unwrap_or("")
        );
    }
    println!("({:.1} s)", started.elapsed().as_secs_f64());
    drop(conn);
    if !dry_run && !no_send {
        drain(&settings, &database)?;
    }
    drop(database);
    Ok(())
}

fn seed_command(settings: &Settings, members: usize, seed: u64, force: bool) -> anyhow::Result<()> {
    let (database, mut conn) = open_migrated(settings)?;
    let hash = actix_web::rt::System::new().block_on(karvan::auth::password::hash(secrecy::SecretString::from(
        karvan::seed::DEMO_PASSWORD,
    )))?;
    let bar = progress_bar(members as u64, "members");
    let started = std::time::Instant::now();
    let seeded = karvan::seed::seed(&mut conn, members, &hash, seed, force, &mut |done| {
        bar.set_position(done as u64)
    })
    .map_err(|e| anyhow::anyhow!(describe(&e)))?;
    bar.finish_and_clear();
    println!(
        "Seeded {} members with {} exchange records ({} new programmes) in {:.1} s. Their password: {}",
        seeded.members,
        seeded.records,
        seeded.programs,
        started.elapsed().as_secs_f64(),
        karvan::seed::DEMO_PASSWORD
    );
    drop(database);
    Ok(())
}
