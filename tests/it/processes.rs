//! `karvan` as a real process, for the tests that start it: the command
//! with a clean environment, a running `serve`, and whether a process lives.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

pub const KARVAN: &str = env!("CARGO_BIN_EXE_karvan");

/// `karvan <args>` with a clean environment: only what a volunteer would set.
pub fn karvan(data_dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(KARVAN);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KARVAN_DATA_DIR", data_dir)
        .env("KARVAN_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .current_dir(data_dir)
        .stdin(Stdio::null());
    command
}

/// A running `karvan serve`; stopped with SIGTERM when dropped, so a failing
/// test leaves no server (nor its PostgreSQL) behind.
pub struct Served {
    pub child: Child,
    pub address: String,
    pub data_dir: PathBuf,
    /// What the server logged until it listened.
    pub start_log: String,
}

impl Served {
    pub fn start(mut command: Command, data_dir: &Path) -> Served {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("karvan starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut start_log = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                start_log.push_str(&line);
                start_log.push('\n');
                if let Some(rest) = line.split("karvan listening on http://").nth(1) {
                    let address = rest.split_whitespace().next().unwrap_or_default().to_string();
                    let _ = tx.send((address, std::mem::take(&mut start_log)));
                }
            }
        });
        let (address, start_log) = match rx.recv_timeout(Duration::from_secs(90)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                let output = child.wait_with_output().unwrap();
                panic!(
                    "karvan serve did not start: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        };
        Served {
            child,
            address: format!("http://{address}"),
            data_dir: data_dir.to_path_buf(),
            start_log,
        }
    }

    pub fn status(&self, path: &str) -> u16 {
        http_status(&format!("{}{path}", self.address))
    }

    /// Sends `signal` and waits for the process to exit; its exit status.
    pub fn stop_with(&mut self, signal: Signal) -> std::process::ExitStatus {
        kill(Pid::from_raw(self.child.id() as i32), signal).unwrap();
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("karvan did not stop within a minute of {signal}");
    }

    pub fn postgres_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.data_dir.join("var/postgres/postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.stop_with(Signal::SIGTERM);
        }
    }
}

/// The status of a GET (0 when nothing answers), from these synchronous tests.
pub fn http_status(url: &str) -> u16 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async { reqwest::get(url).await.map(|r| r.status().as_u16()).unwrap_or(0) })
}

pub fn process_alive(pid: i32) -> bool {
    // A zombie (exited, not yet reaped by whoever inherited it) is not alive.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// PostgreSQL removes its pid file just before its last process exits.
pub fn gone_soon(pid: i32) -> bool {
    (0..50).any(|_| {
        let gone = !process_alive(pid);
        if !gone {
            std::thread::sleep(Duration::from_millis(100));
        }
        gone
    })
}

/// `karvan <args>` on the database at `db_url` (a test's own), with the
/// test secret and no digest schedule unless the test sets one.
pub fn karvan_on(db_url: &str, data_dir: &Path, args: &[&str]) -> Command {
    let mut command = karvan(data_dir, args);
    command
        .env("DATABASE_URL", db_url)
        .env("KARVAN_JWT_SECRET", crate::helpers::TEST_JWT_SECRET)
        .env("KARVAN_DIGEST_SCHEDULE", "off");
    command
}
