//! The test harness: one throwaway PostgreSQL cluster for the whole run
//! (started by the same code as the embedded default) or `TEST_DATABASE_URL`;
//! a template database migrated once; a database of its own for each test,
//! cloned from the template; and the real application on port 0.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use actix_web::dev::ServerHandle;
use diesel::prelude::*;
use karvan::app::Application;
use karvan::config::Settings;
use karvan::db;
use karvan::db::embedded::Cluster;
use secrecy::SecretString;

/// The server every test's database lives on.
pub struct TestServer {
    /// `None`: `TEST_DATABASE_URL`, a server the tests do not own.
    cluster: Option<Cluster>,
    base_url: Option<url::Url>,
    template: String,
    _watchdog: Option<Mutex<ChildStdin>>,
}

impl TestServer {
    pub fn url(&self, database: &str) -> String {
        match (&self.cluster, &self.base_url) {
            (Some(cluster), _) => cluster.url(database),
            (None, Some(base)) => {
                let mut url = base.clone();
                url.set_path(&format!("/{database}"));
                url.to_string()
            }
            (None, None) => unreachable!("a test server has a cluster or a URL"),
        }
    }

    pub fn admin_connection(&self) -> PgConnection {
        PgConnection::establish(&self.url("postgres")).expect("the test server accepts connections")
    }
}

pub fn test_server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            karvan::telemetry::init("info,karvan=debug");
        }
        let mut server = match std::env::var("TEST_DATABASE_URL") {
            Ok(url) => TestServer {
                cluster: None,
                base_url: Some(url::Url::parse(&url).expect("TEST_DATABASE_URL is a URL")),
                template: String::new(),
                _watchdog: None,
            },
            Err(_) => {
                let throwaway = ThrowawayCluster::start();
                let cluster = throwaway.cluster.clone();
                // The cluster lives as long as the test process; the watchdog
                // removes it when the process ends, however it ends.
                let watchdog = throwaway.into_watchdog();
                TestServer {
                    cluster: Some(cluster),
                    base_url: None,
                    template: String::new(),
                    _watchdog: Some(Mutex::new(watchdog)),
                }
            }
        };
        server.template = create_template(&server);
        server
    })
}

/// Migrates a template once per set of migrations; every test clones it,
/// which is much faster than migrating a database per test.
fn create_template(server: &TestServer) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    for entry in walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")) {
        std::hash::Hash::hash(&entry, &mut hasher);
        std::hash::Hash::hash(&std::fs::read(&entry).unwrap_or_default(), &mut hasher);
    }
    let name = format!("karvan_template_{:016x}", std::hash::Hasher::finish(&hasher));
    let mut admin = server.admin_connection();
    // Test processes sharing a TEST_DATABASE_URL server take turns.
    diesel::sql_query("SELECT pg_advisory_lock(4242)")
        .execute(&mut admin)
        .unwrap();
    let exists: i64 = diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
        "(SELECT count(*) FROM pg_database WHERE datname = '{name}')"
    )))
    .get_result(&mut admin)
    .unwrap();
    if exists == 0 {
        let building = format!("{name}_building");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"))
            .execute(&mut admin)
            .unwrap();
        diesel::sql_query(format!("CREATE DATABASE \"{building}\""))
            .execute(&mut admin)
            .unwrap();
        {
            let mut conn = PgConnection::establish(&server.url(&building)).unwrap();
            db::migrate(&mut conn).expect("migrations apply to an empty database");
        }
        // Renamed only once complete, so a crash never leaves a half-made template.
        diesel::sql_query(format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\""))
            .execute(&mut admin)
            .unwrap();
    }
    diesel::sql_query("SELECT pg_advisory_unlock(4242)")
        .execute(&mut admin)
        .unwrap();
    name
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// A fresh database cloned from the migrated template.
pub fn create_test_database() -> (String, String) {
    let server = test_server();
    let name = format!("karvan_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = server.admin_connection();
    diesel::sql_query(format!("CREATE DATABASE \"{name}\" TEMPLATE \"{}\"", server.template))
        .execute(&mut admin)
        .expect("the template can be cloned");
    let url = server.url(&name);
    (name, url)
}

pub fn drop_test_database(name: &str) {
    let mut admin = test_server().admin_connection();
    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut admin);
}

/// A PostgreSQL cluster in a temporary folder, made and started by Karvan's
/// own embedded-database code. Stopped and removed on drop.
pub struct ThrowawayCluster {
    pub cluster: Cluster,
    pub dir: PathBuf,
}

impl ThrowawayCluster {
    pub fn start() -> Self {
        let cluster = Self::init();
        cluster.cluster.start().expect("the throwaway cluster starts");
        cluster.cluster.ensure_database("karvan").unwrap();
        cluster
    }

    /// Made, not started.
    pub fn init() -> Self {
        let folder = make_temp_dir("karvan-pg-");
        let cluster = Cluster::new(folder.join("postgres")).expect("PostgreSQL binaries are installed");
        cluster.init().expect("initdb succeeds");
        // From here on, this value's drop (or its watchdog) removes the folder.
        let dir = folder.0.clone();
        std::mem::forget(folder);
        Self { cluster, dir }
    }

    /// Hands the cluster to a watchdog process that stops it and removes its
    /// folder when this test process exits, even by a panic or a signal: the
    /// watchdog waits for its standard input to close, which happens when the
    /// last holder of the returned pipe, this process, is gone.
    pub fn into_watchdog(self) -> ChildStdin {
        let script = r#"
            read _
            pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null)
            if [ -n "$pid" ]; then
              kill -INT "$pid" 2>/dev/null
              i=0
              while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
            fi
            rm -rf "$2"
        "#;
        // Never waited for: it must outlive this process to do its work.
        #[allow(clippy::zombie_processes)]
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("watchdog")
            .arg(self.cluster.pgdata())
            .arg(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Out of the terminal's process group, so a Ctrl-C on the test
            // run does not stop the watchdog before it has cleaned up.
            .process_group(0)
            .spawn()
            .expect("sh runs");
        let stdin = child.stdin.expect("piped stdin");
        std::mem::forget(self);
        stdin
    }
}

impl Drop for ThrowawayCluster {
    fn drop(&mut self) {
        if self.cluster.is_running() {
            let _ = self.cluster.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A temporary folder the `postgres` system user can reach when tests run
/// as root (the embedded cluster then runs as that user). Removed on drop,
/// also when the test panics.
pub fn make_temp_dir(prefix: &str) -> TempFolder {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap().keep();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    TempFolder(dir)
}

pub struct TempFolder(PathBuf);

impl std::ops::Deref for TempFolder {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub const TEST_JWT_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";

/// Settings as `karvan serve` would read them from these variables.
pub fn settings_from(vars: &HashMap<String, String>) -> Settings {
    Settings::from_lookup(|name| vars.get(name).cloned()).expect("valid test settings")
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db_url: String,
    /// Mail files and the like; removed with the app.
    _data_dir: tempfile::TempDir,
    db_name: Option<String>,
    handle: ServerHandle,
}

/// The application on its own database, with default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The application with some environment variables changed first.
pub async fn spawn_app_with(customize: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    let (name, url) = create_test_database();
    let mut app = spawn_app_on(&url, customize).await;
    app.db_name = Some(name);
    app
}

/// The application on a database the caller owns.
pub async fn spawn_app_on(db_url: &str, customize: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    let mut vars: HashMap<String, String> = [
        ("DATABASE_URL", db_url),
        ("KARVAN_JWT_SECRET", TEST_JWT_SECRET),
        ("KARVAN_BIND", "127.0.0.1:0"),
        ("KARVAN_DATA_DIR", data_dir.path().to_str().unwrap()),
        ("KARVAN_WORKERS", "1"),
        ("KARVAN_DB_POOL_SIZE", "4"),
        // Digests run when a test asks, never on the clock.
        ("KARVAN_DIGEST_SCHEDULE", "off"),
        ("KARVAN_ASSOCIATION_NAME", "Pakistan–Azerbaijan Exchange Alumni"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    customize(&mut vars);
    let app = Application::build(settings_from(&vars))
        .await
        .expect("the application builds");
    let port = app.port();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap(),
        db_url: db_url.to_string(),
        _data_dir: data_dir,
        db_name: None,
        handle,
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the request is answered")
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .json(body)
            .send()
            .await
            .expect("the request is answered")
    }

    /// A web form, as a browser posts it (with the client's cookies).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .form(fields)
            .send()
            .await
            .expect("the request is answered")
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: &'static str) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("the request is answered")
    }

    pub fn port(&self) -> u16 {
        self.address.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// The app's `KARVAN_DATA_DIR` (mail files ...).
    pub fn data_dir(&self) -> &Path {
        self._data_dir.path()
    }

    /// A direct connection to the test's database, for asserting on rows.
    pub fn conn(&self) -> PgConnection {
        db::connect(&SecretString::from(self.db_url.clone())).unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The stop command is sent when `stop` is called; the returned future
        // only waits for it, which a synchronous drop cannot do.
        drop(self.handle.stop(false));
        if let Some(name) = &self.db_name {
            drop_test_database(name);
        }
    }
}

/// How many sessions of this test's database wait on a lock: a test that
/// holds a row watches for the request that must wait on it.
pub fn lock_waiters(conn: &mut PgConnection) -> i64 {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock')",
    ))
    .get_result(conn)
    .unwrap()
}

/// A problem+json body, checked for the fields RFC 9457 asks for.
pub async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert_eq!(content_type, "application/problem+json");
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    assert_eq!(body["status"], status);
    assert!(
        body["type"].as_str().unwrap().starts_with("urn:karvan:problem:"),
        "{body}"
    );
    assert!(body["title"].is_string(), "{body}");
    body
}

/// The value of the hidden `name` field in a page's form.
pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in\n{html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// A person's browser: its own cookies, and redirects left for the test to
/// see.
pub struct Browser {
    pub address: String,
    pub client: reqwest::Client,
}

impl TestApp {
    pub fn browser(&self) -> Browser {
        Browser {
            address: self.address.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .build()
                .unwrap(),
        }
    }
}

impl Browser {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the request is answered")
    }

    /// A page's HTML, which must answer 200.
    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    /// Opens `page`, then posts its form to `action` with the page's CSRF
    /// token and `fields`, as a person pressing the button does.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = hidden_field(&self.page(page).await, "csrf_token");
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post_form(action, &form).await
    }

    pub async fn post_form(&self, action: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{action}", self.address))
            .form(fields)
            .send()
            .await
            .expect("the request is answered")
    }
}

/// Where a redirect sends the browser.
pub fn location(response: &reqwest::Response) -> String {
    assert!(
        response.status().is_redirection(),
        "expected a redirect, got {}",
        response.status()
    );
    response.headers()["location"].to_str().unwrap().to_string()
}

/// The `Set-Cookie` headers of a response.
pub fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}
