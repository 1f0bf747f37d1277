//! The database going away and coming back, and the embedded cluster's
//! start and restart on an existing data folder.

use crate::helpers::{problem, spawn_app_on, ThrowawayCluster};
use diesel::prelude::*;
use karvan::db::embedded::Cluster;

#[tokio::test]
async fn readyz_answers_503_while_the_database_is_down_and_recovers_after() {
    let throwaway = tokio::task::spawn_blocking(ThrowawayCluster::start).await.unwrap();
    let url = throwaway.cluster.url("karvan");
    let app = spawn_app_on(&url, |vars| {
        vars.insert("KARVAN_DB_POOL_TIMEOUT_MS".into(), "500".into());
    })
    .await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    let cluster = throwaway.cluster.clone();
    tokio::task::spawn_blocking(move || cluster.stop().unwrap())
        .await
        .unwrap();
    let body = problem(app.get("/readyz").await, 503).await;
    assert_eq!(body["type"], "urn:karvan:problem:unavailable");
    // The process itself is still alive, and pages that need no data still answer.
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/").await.status(), 200);
    let page = app.get("/readyz").await;
    assert_eq!(page.headers()["retry-after"], "5");

    // Started again on its existing folder: no initdb, the migrated data is there.
    let cluster = throwaway.cluster.clone();
    tokio::task::spawn_blocking(move || {
        assert!(cluster.is_initialized());
        cluster.start().unwrap();
    })
    .await
    .unwrap();
    assert_eq!(
        app.get("/readyz").await.status(),
        200,
        "the pool replaces its dead connections"
    );
    let mut conn = app.conn();
    let tables: i64 = diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM information_schema.tables WHERE table_name IN ('members', 'audit_log', 'email_outbox'))",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(tables, 3);
    drop(conn);
    drop(app);
    tokio::task::spawn_blocking(move || drop(throwaway)).await.unwrap();
}

#[test]
fn the_embedded_cluster_listens_on_no_tcp_port_and_keeps_data_across_restarts() {
    let throwaway = ThrowawayCluster::start();
    let cluster = &throwaway.cluster;
    let mut conn = PgConnection::establish(&cluster.url("karvan")).unwrap();
    let listen: String = diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "current_setting('listen_addresses')",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(listen, "", "unix socket only");
    diesel::sql_query("CREATE TABLE kept (note text)")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query("INSERT INTO kept VALUES ('still here')")
        .execute(&mut conn)
        .unwrap();
    drop(conn);

    cluster.stop().unwrap();
    assert!(!cluster.is_running());
    assert!(!cluster.pgdata().join("postmaster.pid").exists());
    cluster.start().unwrap();
    assert!(cluster.is_running());
    let mut conn = PgConnection::establish(&cluster.url("karvan")).unwrap();
    let note: String = diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::Text>("(SELECT note FROM kept)"))
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(note, "still here");
    drop(conn);

    // A data folder moved (or restored from a backup) elsewhere still starts,
    // its socket in the new place.
    cluster.stop().unwrap();
    let moved = throwaway.dir.join("moved");
    std::fs::rename(cluster.pgdata(), &moved).unwrap();
    let relocated = Cluster::new(&moved).unwrap();
    relocated.start().unwrap();
    let note = PgConnection::establish(&relocated.url("karvan")).and_then(|mut conn| {
        diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::Text>("(SELECT note FROM kept)"))
            .get_result::<String>(&mut conn)
            .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))
    });
    relocated.stop().unwrap();
    std::fs::rename(&moved, cluster.pgdata()).unwrap();
    assert_eq!(note.unwrap(), "still here");
}
