//! `src/db/schema.rs` must be exactly what `diesel print-schema` prints for
//! the migrated database, so the Rust code never disagrees with the tables.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::{create_test_database, drop_test_database};

/// The diesel CLI version whose output `schema.rs` matches.
const DIESEL_CLI_VERSION: &str = "2.3.14";

#[test]
fn schema_rs_matches_what_diesel_print_schema_prints() {
    let diesel = diesel_cli();
    let (name, url) = create_test_database();
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(&diesel)
        .args(["print-schema", "--database-url", &url])
        .current_dir(manifest_dir)
        .output()
        .expect("diesel runs");
    drop_test_database(&name);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8(output.stdout).unwrap();
    let committed = std::fs::read_to_string(manifest_dir.join("src/db/schema.rs")).unwrap();
    assert!(printed.contains("diesel::table!"), "{printed}");
    assert_eq!(
        committed, printed,
        "src/db/schema.rs has drifted from the migrations: regenerate it with \
         `diesel print-schema > src/db/schema.rs` on a migrated database"
    );
}

/// The diesel CLI: from `DIESEL_CLI`, else installed once into `target/tools`
/// (the project's own files install what its tests need).
fn diesel_cli() -> PathBuf {
    if let Some(path) = std::env::var_os("DIESEL_CLI") {
        return PathBuf::from(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools");
    let binary = root.join("bin/diesel");
    let installed_version = Command::new(&binary)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    if installed_version.contains(DIESEL_CLI_VERSION) {
        return binary;
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "install",
            "diesel_cli",
            "--locked",
            "--no-default-features",
            "--features",
            "postgres",
        ])
        .args(["--version", &format!("={DIESEL_CLI_VERSION}")])
        .arg("--root")
        .arg(&root)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "installing diesel_cli {DIESEL_CLI_VERSION} failed");
    binary
}
