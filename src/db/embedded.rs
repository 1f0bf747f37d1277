//! The embedded default database: a PostgreSQL cluster of Karvan's own under
//! `$KARVAN_DATA_DIR/postgres`, run with the system's PostgreSQL binaries.
//!
//! It listens on a unix socket inside its own data directory and on no TCP
//! port, so it can never clash with another server on the machine and only
//! the user who owns the folder can reach it (hence `trust` authentication).
//! PostgreSQL refuses to run as root: when Karvan runs as root, the cluster
//! runs as the `postgres` system user.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The port number names the socket file (`.s.PGSQL.54329`); nothing listens on TCP.
pub const PORT: u16 = 54329;
pub const SUPERUSER: &str = "karvan";
pub const DATABASE: &str = "karvan";
/// Longest unix socket path Linux accepts (`sun_path` is 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "PostgreSQL server programs (initdb, pg_ctl, postgres) were not found on PATH or under /usr/lib/postgresql/*/bin: \
         install PostgreSQL (Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL to a server of yours"
    )]
    NoBinaries,
    #[error(
        "the data in {data} was made by PostgreSQL {data_version}, but only PostgreSQL {found} is installed: \
         install PostgreSQL {data_version} or upgrade the data with pg_upgrade"
    )]
    VersionMismatch {
        data: PathBuf,
        data_version: String,
        found: String,
    },
    #[error(
        "Karvan runs as root, and PostgreSQL refuses to: a 'postgres' system user is needed to own the cluster \
         (installing PostgreSQL creates it), or run Karvan as an ordinary user"
    )]
    NoPostgresUser,
    #[error(
        "the postgres system user cannot write to {0}: make the folders above it searchable by others (chmod o+x) \
         or set KARVAN_DATA_DIR to a folder it can reach"
    )]
    Unreachable(PathBuf),
    #[error("the socket path {0} is too long for a unix socket: set KARVAN_DATA_DIR to a shorter path")]
    SocketPathTooLong(PathBuf),
    #[error("karvan serve is already running on {data_dir} (pid {pid}); stop it first or use another KARVAN_DATA_DIR")]
    AlreadyServing { data_dir: PathBuf, pid: String },
    #[error("a karvan command (pid {pid}) is using {data_dir}; start serve again when it has finished")]
    CommandRunning { data_dir: PathBuf, pid: String },
    #[error(
        "the data dir {data_dir} is in use by another karvan process (pid {pid}) and its database is not running; \
         wait for that process to finish"
    )]
    Busy { data_dir: PathBuf, pid: String },
    #[error("{action} failed: {message}")]
    Command { action: &'static str, message: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not prepare the database {DATABASE}: {0}")]
    Database(String),
}

/// The settings file of the socket's folder, and the line that includes it.
const LOCATION_FILE: &str = "karvan.conf";
const LOCATION_INCLUDE: &str = "include_if_exists = 'karvan.conf'";

fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmbeddedError {
    let context = context.into();
    move |source| EmbeddedError::Io { context, source }
}

/// The system account the cluster's processes run as, when it is not us.
#[derive(Debug, Clone, Copy)]
struct ClusterUser {
    uid: u32,
    gid: u32,
}

/// Where the PostgreSQL server programs live, and which major version they are.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub bin_dir: PathBuf,
    pub major_version: String,
}

/// Finds `initdb`, `pg_ctl` and `postgres` together in one folder: first on
/// `path_var`, then under `<lib_root>/*/bin` (Debian keeps them out of PATH),
/// newest version first. With `want_major`, only that version will do.
pub fn find_binaries(
    path_var: Option<&str>,
    lib_root: &Path,
    want_major: Option<&str>,
) -> Result<Binaries, EmbeddedError> {
    let mut candidates: Vec<PathBuf> = path_var.map(|p| std::env::split_paths(p).collect()).unwrap_or_default();
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir(lib_root)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                    Some((version, e.path().join("bin")))
                })
                .collect()
        })
        .unwrap_or_default();
    versioned.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    candidates.extend(versioned.into_iter().map(|(_, dir)| dir));

    let mut found_versions = Vec::new();
    for dir in candidates {
        if !["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|p| is_executable(&dir.join(p)))
        {
            continue;
        }
        let Some(major) = server_major_version(&dir.join("postgres")) else {
            continue;
        };
        match want_major {
            Some(want) if want != major => found_versions.push(major),
            _ => {
                return Ok(Binaries {
                    bin_dir: dir,
                    major_version: major,
                })
            }
        }
    }
    match (want_major, found_versions.is_empty()) {
        (Some(want), false) => Err(EmbeddedError::VersionMismatch {
            data: PathBuf::new(),
            data_version: want.to_string(),
            found: found_versions.join(", "),
        }),
        _ => Err(EmbeddedError::NoBinaries),
    }
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// `postgres (PostgreSQL) 15.20 (Debian ...)` → `15`.
fn server_major_version(postgres: &Path) -> Option<String> {
    let output = Command::new(postgres).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.split_whitespace().nth(2)?;
    let major = version.split(['.', 'b', 'r']).next()?;
    major.parse::<u32>().ok().map(|m| m.to_string())
}

/// One PostgreSQL cluster in a folder of its own.
#[derive(Debug, Clone)]
pub struct Cluster {
    pgdata: PathBuf,
    binaries: Binaries,
    run_as: Option<ClusterUser>,
}

impl Cluster {
    /// A cluster in `pgdata` (made on [`Cluster::init`] if it does not exist yet).
    pub fn new(pgdata: impl Into<PathBuf>) -> Result<Self, EmbeddedError> {
        let pgdata = absolute(pgdata.into())?;
        let existing_version = std::fs::read_to_string(pgdata.join("PG_VERSION"))
            .ok()
            .map(|v| v.trim().to_string());
        let path_var = std::env::var("PATH").ok();
        let binaries = find_binaries(
            path_var.as_deref(),
            Path::new("/usr/lib/postgresql"),
            existing_version.as_deref(),
        )
        .map_err(|e| match e {
            EmbeddedError::VersionMismatch {
                data_version, found, ..
            } => EmbeddedError::VersionMismatch {
                data: pgdata.clone(),
                data_version,
                found,
            },
            other => other,
        })?;
        let run_as = if nix::unistd::geteuid().is_root() {
            let user = nix::unistd::User::from_name("postgres")
                .ok()
                .flatten()
                .ok_or(EmbeddedError::NoPostgresUser)?;
            Some(ClusterUser {
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            })
        } else {
            None
        };
        let socket = pgdata.join(format!(".s.PGSQL.{PORT}"));
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(EmbeddedError::SocketPathTooLong(socket));
        }
        Ok(Self {
            pgdata,
            binaries,
            run_as,
        })
    }

    pub fn pgdata(&self) -> &Path {
        &self.pgdata
    }

    pub fn binaries(&self) -> &Binaries {
        &self.binaries
    }

    /// The libpq URL of `database`, over the cluster's unix socket.
    pub fn url(&self, database: &str) -> String {
        // libpq decodes %XX in URI parameters but not `+`, so no form encoding.
        let host =
            percent_encoding::utf8_percent_encode(&self.pgdata.to_string_lossy(), percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        format!("postgres:///{database}?host={host}&port={PORT}&user={SUPERUSER}")
    }

    pub fn is_initialized(&self) -> bool {
        self.pgdata.join("PG_VERSION").is_file()
    }

    /// A command of the cluster's, run as the cluster's user, in a process
    /// group of its own so a Ctrl-C meant for Karvan does not reach the server:
    /// Karvan stops it itself, after the requests in flight are done.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.binaries.bin_dir.join(program));
        command
            .current_dir("/")
            .stdin(Stdio::null())
            .process_group(0)
            .env("LC_MESSAGES", "C")
            .env_remove("PGDATA");
        if let Some(user) = self.run_as {
            command.uid(user.uid).gid(user.gid);
        }
        command
    }

    fn run(&self, action: &'static str, mut command: Command) -> Result<Output, EmbeddedError> {
        let output = command.output().map_err(io_error(format!("{action}: could not run")))?;
        if output.status.success() {
            Ok(output)
        } else {
            let mut message = last_lines(&output.stderr, 3);
            if message.is_empty() {
                message = last_lines(&output.stdout, 3);
            }
            if message.is_empty() {
                message = format!("exited with {}", output.status);
            }
            Err(EmbeddedError::Command { action, message })
        }
    }

    /// Creates the cluster's folder and runs `initdb` in it.
    pub fn init(&self) -> Result<(), EmbeddedError> {
        let parent = self.pgdata.parent().unwrap_or(Path::new("/"));
        std::fs::create_dir_all(parent).map_err(io_error(format!("could not create {}", parent.display())))?;
        std::fs::create_dir_all(&self.pgdata)
            .map_err(io_error(format!("could not create {}", self.pgdata.display())))?;
        std::fs::set_permissions(&self.pgdata, std::fs::Permissions::from_mode(0o700))
            .map_err(io_error(format!("could not protect {}", self.pgdata.display())))?;
        if let Some(user) = self.run_as {
            nix::unistd::chown(
                &self.pgdata,
                Some(nix::unistd::Uid::from_raw(user.uid)),
                Some(nix::unistd::Gid::from_raw(user.gid)),
            )
            .map_err(|e| EmbeddedError::Io {
                context: format!("could not give {} to the postgres user", self.pgdata.display()),
                source: e.into(),
            })?;
            // Every folder above must be searchable by the cluster's user.
            let mut writable = Command::new("test");
            writable
                .arg("-w")
                .arg(&self.pgdata)
                .current_dir("/")
                .uid(user.uid)
                .gid(user.gid);
            if !writable.status().map(|s| s.success()).unwrap_or(false) {
                return Err(EmbeddedError::Unreachable(self.pgdata.clone()));
            }
        }

        let mut initdb = self.command("initdb");
        initdb
            .arg("--pgdata")
            .arg(&self.pgdata)
            // Trust only on the private unix socket; TCP is refused even if
            // the settings below were never written (a crash right after initdb).
            .args([
                "--username",
                SUPERUSER,
                "--auth-local",
                "trust",
                "--auth-host",
                "reject",
            ])
            .args(["--encoding", "UTF8"])
            // A UTF-8 ctype lets pg_trgm and lower() treat Urdu and Azerbaijani
            // letters as letters; C.UTF-8 exists on every glibc system.
            .args(["--locale", "C.UTF-8", "--no-instructions"]);
        self.run("initdb", initdb)?;

        let settings = format!(
            "\n# Karvan: unix socket only, in this folder; no TCP port.\n\
             listen_addresses = ''\n\
             port = {PORT}\n\
             unix_socket_permissions = 0700\n"
        );
        let conf = self.pgdata.join("postgresql.conf");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut f| f.write_all(settings.as_bytes()))
            .map_err(io_error(format!("could not write {}", conf.display())))?;
        Ok(())
    }

    /// Whether a server is running on this folder (`pg_ctl status`).
    pub fn is_running(&self) -> bool {
        let mut status = self.command("pg_ctl");
        status.arg("status").arg("--pgdata").arg(&self.pgdata);
        status.stdout(Stdio::null()).stderr(Stdio::null());
        status.status().map(|s| s.success()).unwrap_or(false)
    }

    /// Writes where the socket goes, this folder as it is now, into
    /// `karvan.conf`, which `postgresql.conf` includes last: a data folder
    /// that was moved, or restored from a backup elsewhere, still starts.
    /// (Folders made before wrote the path into `postgresql.conf` itself;
    /// the include, added once, overrides it.)
    fn write_socket_location(&self) -> Result<(), EmbeddedError> {
        let conf = self.pgdata.join("postgresql.conf");
        let text = std::fs::read_to_string(&conf).map_err(io_error(format!("could not read {}", conf.display())))?;
        if !text.lines().any(|line| line.trim() == LOCATION_INCLUDE) {
            std::fs::OpenOptions::new()
                .append(true)
                .open(&conf)
                .and_then(|mut f| f.write_all(format!("\n{LOCATION_INCLUDE}\n").as_bytes()))
                .map_err(io_error(format!("could not write {}", conf.display())))?;
        }
        let socket_dir = self.pgdata.to_string_lossy().replace('\'', "''");
        let location = self.pgdata.join(LOCATION_FILE);
        // Written aside and renamed, so a crash never leaves half a file;
        // owned by the cluster's user (a root-owned file, unreadable under a
        // strict umask, would stop the server).
        let written = self.pgdata.join(format!("{LOCATION_FILE}.new"));
        std::fs::write(
            &written,
            format!("# Written by Karvan at each start: the socket is in this folder.\nunix_socket_directories = '{socket_dir}'\n"),
        )
        .and_then(|()| std::fs::set_permissions(&written, std::fs::Permissions::from_mode(0o600)))
        .map_err(io_error(format!("could not write {}", written.display())))?;
        if let Some(user) = self.run_as {
            nix::unistd::chown(
                &written,
                Some(nix::unistd::Uid::from_raw(user.uid)),
                Some(nix::unistd::Gid::from_raw(user.gid)),
            )
            .map_err(|e| EmbeddedError::Io {
                context: format!("could not give {} to the postgres user", written.display()),
                source: e.into(),
            })?;
        }
        std::fs::rename(&written, &location).map_err(io_error(format!("could not write {}", location.display())))?;
        Ok(())
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) -> Result<(), EmbeddedError> {
        self.write_socket_location()?;
        let log = self.pgdata.join("server.log");
        let mut start = self.command("pg_ctl");
        start
            .arg("start")
            .arg("--pgdata")
            .arg(&self.pgdata)
            .arg("--log")
            .arg(&log)
            .args(["--wait", "--timeout", "120", "--silent"]);
        self.run("starting PostgreSQL", start).map_err(|e| match e {
            EmbeddedError::Command { action, message } => {
                let tail = std::fs::read(&log).map(|b| last_lines(&b, 3)).unwrap_or_default();
                EmbeddedError::Command {
                    action,
                    message: format!("{message} {tail} (log: {})", log.display()),
                }
            }
            other => other,
        })?;
        Ok(())
    }

    /// Stops the server: sessions are ended, committed work is kept.
    pub fn stop(&self) -> Result<(), EmbeddedError> {
        let mut stop = self.command("pg_ctl");
        stop.arg("stop").arg("--pgdata").arg(&self.pgdata).args([
            "--mode",
            "fast",
            "--wait",
            "--timeout",
            "120",
            "--silent",
        ]);
        self.run("stopping PostgreSQL", stop)?;
        Ok(())
    }

    /// Creates `name` unless it exists.
    pub fn ensure_database(&self, name: &str) -> Result<(), EmbeddedError> {
        use diesel::prelude::*;
        use diesel::sql_types::Text;

        #[derive(QueryableByName)]
        struct Found {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            #[allow(dead_code)]
            one: i32,
        }

        let mut conn =
            PgConnection::establish(&self.url("postgres")).map_err(|e| EmbeddedError::Database(e.to_string()))?;
        let exists = diesel::sql_query("SELECT 1 AS one FROM pg_database WHERE datname = $1")
            .bind::<Text, _>(name)
            .get_results::<Found>(&mut conn)
            .map_err(|e| EmbeddedError::Database(e.to_string()))?;
        if exists.is_empty() {
            let quoted = name.replace('"', "\"\"");
            diesel::sql_query(format!("CREATE DATABASE \"{quoted}\""))
                .execute(&mut conn)
                .map_err(|e| EmbeddedError::Database(e.to_string()))?;
        }
        Ok(())
    }
}

fn absolute(path: PathBuf) -> Result<PathBuf, EmbeddedError> {
    std::path::absolute(&path).map_err(io_error(format!("could not resolve {}", path.display())))
}

fn last_lines(bytes: &[u8], count: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines[lines.len().saturating_sub(count)..].join(" / ")
}

/// Who is using the data dir: `serve` owns it alone; other commands share the
/// server that `serve` runs, or run the cluster themselves while it is idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Server,
    Command,
}

/// The embedded database, started for as long as this value lives.
///
/// Whoever holds `karvan.lock` in the data dir owns the cluster: it starts the
/// server if it is not running (or adopts one left by a crashed Karvan) and
/// stops it on drop. A command that finds the lock taken uses the running
/// server and leaves it running.
#[derive(Debug)]
pub struct EmbeddedDatabase {
    cluster: Cluster,
    url: String,
    owner_lock: Option<File>,
}

impl EmbeddedDatabase {
    pub fn open(data_dir: &Path, role: Role) -> Result<Self, EmbeddedError> {
        let data_dir = absolute(data_dir.to_path_buf())?;
        std::fs::create_dir_all(&data_dir).map_err(io_error(format!("could not create {}", data_dir.display())))?;
        let cluster = Cluster::new(data_dir.join("postgres"))?;
        let url = cluster.url(DATABASE);

        let lock_path = data_dir.join("karvan.lock");
        let mut lock = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_error(format!("could not open {}", lock_path.display())))?;
        match lock.try_lock() {
            Ok(()) => {
                let me = format!(
                    "{} {}\n",
                    std::process::id(),
                    if role == Role::Server { "serve" } else { "command" }
                );
                let _ = lock
                    .set_len(0)
                    .and_then(|_| lock.rewind())
                    .and_then(|_| lock.write_all(me.as_bytes()));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = lock.read_to_string(&mut holder);
                let mut parts = holder.split_whitespace();
                let pid = parts.next().unwrap_or("unknown").to_string();
                let holder_role = parts.next().unwrap_or("");
                if role == Role::Server {
                    return Err(if holder_role == "serve" {
                        EmbeddedError::AlreadyServing { data_dir, pid }
                    } else {
                        EmbeddedError::CommandRunning { data_dir, pid }
                    });
                }
                if !cluster.is_running() {
                    return Err(EmbeddedError::Busy { data_dir, pid });
                }
                tracing::debug!(pid, holder_role, "using the database of another karvan process");
                return Ok(Self {
                    cluster,
                    url,
                    owner_lock: None,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(EmbeddedError::Io {
                    context: format!("could not lock {}", lock_path.display()),
                    source: e,
                })
            }
        }

        if !cluster.is_initialized() {
            tracing::info!(pgdata = %cluster.pgdata().display(), "creating the embedded PostgreSQL cluster");
            cluster.init()?;
        }
        if cluster.is_running() {
            tracing::info!("adopting the embedded PostgreSQL server left running by an earlier karvan");
        } else {
            tracing::info!(version = %cluster.binaries().major_version, "starting the embedded PostgreSQL server");
            cluster.start()?;
        }
        let database = Self {
            cluster,
            url,
            owner_lock: Some(lock),
        };
        // Dropping `database` on error stops the server again.
        database.cluster.ensure_database(DATABASE)?;
        Ok(database)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Whether this process started (or adopted) the server and will stop it.
    pub fn owns_server(&self) -> bool {
        self.owner_lock.is_some()
    }
}

impl Drop for EmbeddedDatabase {
    fn drop(&mut self) {
        if self.owner_lock.is_none() {
            return;
        }
        match self.cluster.stop() {
            Ok(()) => tracing::info!("stopped the embedded PostgreSQL server"),
            Err(e) => tracing::error!(error = %e, "could not stop the embedded PostgreSQL server"),
        }
        // The lock is released when the file closes, after the server is down.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_binaries_gives_one_line_that_says_what_to_do() {
        let empty = tempfile::tempdir().unwrap();
        let err = find_binaries(Some(empty.path().to_str().unwrap()), empty.path(), None).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, EmbeddedError::NoBinaries));
        assert!(
            text.contains("install PostgreSQL") && text.contains("DATABASE_URL"),
            "{text}"
        );
        assert!(!text.contains('\n'));
    }

    #[test]
    fn binaries_are_found_under_the_debian_folder_when_not_on_path() {
        let found = find_binaries(Some(""), Path::new("/usr/lib/postgresql"), None).unwrap();
        assert!(found.bin_dir.join("initdb").exists());
        assert!(found.major_version.parse::<u32>().unwrap() >= 12);
    }

    #[test]
    fn data_of_another_major_version_is_refused_clearly() {
        let err = find_binaries(Some(""), Path::new("/usr/lib/postgresql"), Some("9")).unwrap_err();
        assert!(matches!(err, EmbeddedError::VersionMismatch { .. }), "{err}");
        assert!(err.to_string().contains("PostgreSQL 9"), "{err}");
    }

    #[test]
    fn the_url_reaches_the_socket_in_the_data_folder() {
        let cluster = Cluster {
            pgdata: PathBuf::from("/srv/alumni data/postgres"),
            binaries: Binaries {
                bin_dir: PathBuf::new(),
                major_version: "15".into(),
            },
            run_as: None,
        };
        assert_eq!(
            cluster.url("karvan"),
            "postgres:///karvan?host=%2Fsrv%2Falumni%20data%2Fpostgres&port=54329&user=karvan"
        );
    }
}
