//! The `karvan` binary as a volunteer runs it: `serve` on the embedded
//! default database with no DATABASE_URL, a second `serve` refused, `migrate`
//! beside a running server, a clean stop, and one clear line on bad settings.

use std::os::unix::process::CommandExt;
use std::process::Stdio;

use nix::sys::signal::Signal;

use crate::helpers::make_temp_dir;
use crate::processes::{gone_soon, karvan, process_alive, Served};

fn serve_and_stop_on_the_embedded_default(as_user: Option<(u32, u32)>) {
    let data_dir = make_temp_dir("karvan-serve-");
    if let Some((uid, gid)) = as_user {
        nix::unistd::chown(&*data_dir, Some(uid.into()), Some(gid.into())).unwrap();
    }
    let command = |args: &[&str]| {
        let mut command = karvan(&data_dir, args);
        command.env("KARVAN_DATA_DIR", data_dir.join("var"));
        if let Some((uid, gid)) = as_user {
            command.uid(uid).gid(gid);
        }
        command
    };

    let mut served = Served::start(command(&["serve"]), &data_dir);
    // A new association has no admin yet: the log says how to make one.
    assert!(
        served.start_log.contains("karvan admin create --email"),
        "{}",
        served.start_log
    );
    for path in ["/healthz", "/readyz", "/metrics", "/"] {
        assert_eq!(served.status(path), 200, "{path}");
    }
    let postgres = served.postgres_pid().expect("the embedded cluster runs");
    assert!(process_alive(postgres));

    // A second server on the same folder is refused, and the first is unharmed.
    let second = command(&["serve"]).output().unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("already running"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert_eq!(served.status("/readyz"), 200);

    // A command uses the running server's database and leaves it running.
    let migrate = command(&["migrate"]).output().unwrap();
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    assert!(String::from_utf8_lossy(&migrate.stdout).contains("up to date"));
    assert_eq!(served.status("/readyz"), 200);

    let status = served.stop_with(Signal::SIGTERM);
    assert!(status.success(), "{status}");
    assert!(gone_soon(postgres), "PostgreSQL stopped with karvan");
    assert!(!data_dir.join("var/postgres/postmaster.pid").exists());

    // Started again on the existing data: the same cluster, stopped by Ctrl-C.
    let mut again = Served::start(command(&["serve"]), &data_dir);
    assert_eq!(again.status("/readyz"), 200);
    let postgres = again.postgres_pid().unwrap();
    let status = again.stop_with(Signal::SIGINT);
    assert!(status.success(), "{status}");
    assert!(gone_soon(postgres));

    // With no server running, a command starts the cluster and stops it again.
    let migrate = command(&["migrate"]).output().unwrap();
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    assert!(!data_dir.join("var/postgres/postmaster.pid").exists());
}

#[test]
fn serve_runs_on_the_embedded_database_and_stops_it_cleanly() {
    serve_and_stop_on_the_embedded_default(None);
}

/// Run as root (CI is), the cluster runs as `postgres`; this runs karvan as
/// an ordinary user too, where the cluster runs as that user.
#[test]
fn serve_runs_on_the_embedded_database_as_an_ordinary_user() {
    if !nix::unistd::geteuid().is_root() {
        // Not root: the test above already runs as an ordinary user.
        return serve_and_stop_on_the_embedded_default(None);
    }
    let nobody = nix::unistd::User::from_name("nobody").unwrap().expect("a nobody user");
    serve_and_stop_on_the_embedded_default(Some((nobody.uid.as_raw(), nobody.gid.as_raw())));
}

#[test]
fn a_bad_setting_stops_the_start_with_one_line_naming_it() {
    let data_dir = make_temp_dir("karvan-config-");
    for (variable, value) in [
        ("KARVAN_BIND", "not-an-address"),
        ("KARVAN_TIME_ZONE", "Asia/Lahore-ish"),
        ("DATABASE_URL", "mysql://root@localhost/karvan"),
    ] {
        let output = karvan(&data_dir, &["serve"]).env(variable, value).output().unwrap();
        assert!(!output.status.success(), "{variable}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(variable), "{stderr}");
    }
    // No database was started for a setting that was wrong.
    assert!(!data_dir.join("var/postgres").exists());
}

#[test]
fn migrate_applies_the_migrations_to_an_empty_database_url() {
    let server = crate::helpers::test_server();
    let name = format!("karvan_migrate_{}", uuid::Uuid::new_v4().simple());
    {
        use diesel::RunQueryDsl;
        let mut admin = server.admin_connection();
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .unwrap();
    }
    let data_dir = make_temp_dir("karvan-migrate-");
    let run = || {
        karvan(&data_dir, &["migrate"])
            .env("DATABASE_URL", server.url(&name))
            .env("KARVAN_JWT_SECRET", crate::helpers::TEST_JWT_SECRET)
            .output()
            .unwrap()
    };
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .count();
    let first = run();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains(&format!("Applied {migrations} migration(s)")),
        "{stdout}"
    );
    let second = run();
    assert!(String::from_utf8_lossy(&second.stdout).contains("up to date"));
    crate::helpers::drop_test_database(&name);
}

#[tokio::test]
async fn outbox_commands_queue_report_and_drain_the_queue() {
    let smtp = crate::mail_server::TestSmtp::start();
    let (name, url) = crate::helpers::create_test_database();
    let data_dir = make_temp_dir("karvan-outbox-");
    let run = |args: &[&str]| {
        let output = karvan(&data_dir, args)
            .env("DATABASE_URL", &url)
            .env("KARVAN_JWT_SECRET", crate::helpers::TEST_JWT_SECRET)
            .env("SMTP_URL", smtp.url())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).to_string(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    let (ok, stdout, stderr) = run(&[
        "outbox",
        "send-test",
        "--to",
        "Board <board@alumni.test>",
        "--count",
        "3",
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("Queued 3 test message(s)"), "{stdout}");
    let (_, stdout, _) = run(&["outbox", "status"]);
    assert!(stdout.contains("pending  3"), "{stdout}");

    let (ok, stdout, stderr) = run(&["outbox", "drain"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("Sent 3 message(s)"), "{stdout}");
    assert_eq!(smtp.received().len(), 3);
    let (_, stdout, _) = run(&["outbox", "status"]);
    assert!(
        stdout.contains("sent     3") && stdout.contains("pending  0"),
        "{stdout}"
    );

    // Failed mail is sent again on request.
    smtp.refuse_all(550);
    run(&["outbox", "send-test", "--to", "board@alumni.test"]);
    let (_, stdout, _) = run(&["outbox", "drain"]);
    assert!(stdout.contains("1 will be retried later"), "{stdout}");
    diesel::RunQueryDsl::execute(
        diesel::sql_query("UPDATE email_outbox SET status = 'failed' WHERE status = 'pending'"),
        &mut <diesel::PgConnection as diesel::Connection>::establish(&url).unwrap(),
    )
    .unwrap();
    smtp.accept_all();
    let (_, stdout, _) = run(&["outbox", "retry-failed"]);
    assert!(stdout.contains("1 failed message(s) will be sent again"), "{stdout}");
    let (_, stdout, _) = run(&["outbox", "drain"]);
    assert!(stdout.contains("Sent 1 message(s)"), "{stdout}");
    assert_eq!(smtp.received().len(), 4);

    let (ok, _, stderr) = run(&["outbox", "send-test", "--to", "not an address"]);
    assert!(!ok);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--to"), "{stderr}");
    crate::helpers::drop_test_database(&name);
}

#[test]
fn admin_create_makes_an_active_admin_from_a_piped_password() {
    use std::io::Write;
    let (name, url) = crate::helpers::create_test_database();
    let data_dir = make_temp_dir("karvan-admin-");
    let create = |email: &str, password: &str| {
        let mut child = karvan(
            &data_dir,
            &["admin", "create", "--email", email, "--name", "Aysel Board"],
        )
        .env("DATABASE_URL", &url)
        .env("KARVAN_JWT_SECRET", crate::helpers::TEST_JWT_SECRET)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).to_string(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    let (ok, stdout, stderr) = create("board@alumni.test", "Board member 2026");
    assert!(ok, "{stderr}");
    assert!(stdout.contains("Created the admin"), "{stdout}");

    use diesel::prelude::*;
    let mut conn = PgConnection::establish(&url).unwrap();
    let (status, role): (String, String) = karvan::db::schema::members::table
        .select((karvan::db::schema::members::status, karvan::db::schema::members::role))
        .first(&mut conn)
        .unwrap();
    assert_eq!((status.as_str(), role.as_str()), ("active", "admin"));
    let audited: i64 = karvan::db::schema::audit_log::table
        .filter(karvan::db::schema::audit_log::action.eq("admin.create"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(audited, 1);

    for (email, password, expected) in [
        ("BOARD@alumni.test", "Board member 2026", "exists already"),
        ("second@alumni.test", "short", "password"),
        ("not-an-email", "Board member 2026", "--email"),
    ] {
        let (ok, _, stderr) = create(email, password);
        assert!(!ok, "{email}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
    drop(conn);
    crate::helpers::drop_test_database(&name);
}

#[tokio::test]
async fn members_import_export_and_seed_from_the_command_line() {
    let (name, url) = crate::helpers::create_test_database();
    let data_dir = make_temp_dir("karvan-members-");
    let run = |args: &[&str]| {
        let output = karvan(&data_dir, args)
            .env("DATABASE_URL", &url)
            .env("KARVAN_JWT_SECRET", crate::helpers::TEST_JWT_SECRET)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).to_string(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    let roster = data_dir.join("roster.csv");
    std::fs::write(
        &roster,
        "email,full_name,country\naysel@example.org,Aysel Məmmədova,Azerbaijan\nbad,Nobody,\n",
    )
    .unwrap();
    let roster_arg = roster.to_str().unwrap();
    let (ok, stdout, stderr) = run(&["members", "import", roster_arg, "--dry-run"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("nothing was saved"), "{stdout}");
    assert!(stdout.contains("2 row(s): 1 new"), "{stdout}");
    assert!(
        stdout.contains("line 3: skipped (bad): email is not an email address"),
        "{stdout}"
    );
    let (ok, stdout, _) = run(&["members", "import", roster_arg]);
    assert!(ok);
    assert!(!stdout.contains("nothing was saved"), "{stdout}");
    let (ok, stdout, _) = run(&["members", "export"]);
    assert!(ok);
    assert!(
        stdout.contains("aysel@example.org,Aysel Məmmədova,,,Azerbaijan"),
        "{stdout}"
    );

    let (ok, _, stderr) = run(&["seed", "--members", "500"]);
    assert!(!ok, "never next to real members");
    assert!(stderr.contains("real member"), "{stderr}");
    let (ok, stdout, stderr) = run(&["seed", "--members", "500", "--force"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("Seeded 500 members"), "{stdout}");
    let (ok, _, stderr) = run(&["members", "import", "/nonexistent.csv"]);
    assert!(!ok);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    crate::helpers::drop_test_database(&name);
}
