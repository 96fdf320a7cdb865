//! `pm` end to end over PostgreSQL: a runtime writes a fresh schema through `PostgresStore`,
//! then the binary reads and repairs it with `--db URL --schema NAME`, without joining the
//! node set. Needs `PM_TEST_POSTGRES_URL`; fails, never skips, without it.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pm_runtime::{PostgresOptions, PostgresStore};

fn url() -> String {
    std::env::var("PM_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "PM_TEST_POSTGRES_URL is not set: the PostgreSQL tests need a server; set it, e.g. \
             PM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test (.ci/run does)"
        )
    })
}

async fn client() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!("cannot reach the PostgreSQL server of PM_TEST_POSTGRES_URL: {e}")
        });
    tokio::spawn(connection);
    client
}

/// Runs `pm --db URL --schema SCHEMA ARGS...`.
fn pm_on(schema: &str, args: &[&str]) -> Output {
    let url = url();
    pm(&[&["--db", url.as_str(), "--schema", schema], args].concat())
}

fn ok(schema: &str, args: &[&str]) -> String {
    let out = pm_on(schema, args);
    assert_eq!(out.code, 0, "pm {args:?} failed: {}", out.stderr);
    out.stdout
}

/// Lease and node rows of inspectors: there must never be any.
async fn inspector_rows(client: &tokio_postgres::Client, schema: &str) -> i64 {
    let sql = format!(
        "SELECT (SELECT count(*) FROM \"{schema}\".pm_node WHERE node_id LIKE 'inspector-%')
              + (SELECT count(*) FROM \"{schema}\".pm_lease WHERE owner LIKE 'inspector-%')"
    );
    client.query_one(&sql, &[]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pm_reads_and_repairs_a_postgres_schema_without_taking_a_lease() {
    let schema = format!("pm_cli_{}", uuid::Uuid::new_v4().simple());
    let options = PostgresOptions {
        schema: schema.clone(),
        ..PostgresOptions::default()
    };
    let store = PostgresStore::connect(&url(), options.clone())
        .await
        .unwrap();
    populate(store.clone()).await;
    store.release().await.unwrap();
    let client = client().await;

    let pms = ok(&schema, &["pms"]);
    assert!(
        pms.contains("shop  v1  5 instances (running 1, parked 2, completed 1, compensated 1)"),
        "{pms}"
    );
    let list = ok(&schema, &["list", "shop", "--status", "parked"]);
    assert!(list.contains("p-1") && list.contains("p-2"), "{list}");
    let show = ok(&schema, &["show", "shop", "o-1"]);
    assert!(
        show.contains("outbox (1):\n  Ship -> shipping/o-1"),
        "{show}"
    );
    let outbox = ok(&schema, &["outbox"]);
    assert!(outbox.ends_with("1 command waiting\n"), "{outbox}");
    let parked = ok(&schema, &["parked"]);
    assert!(
        parked.contains("handler panicked: the auditor is out") && parked.contains("2 parked"),
        "{parked}"
    );
    let diagram = ok(&schema, &["diagram", "shop"]);
    assert_eq!(diagram.trim_end(), Shop::DIAGRAM.trim_end());

    let retried = ok(&schema, &["retry", "shop", "p-1"]);
    assert!(retried.contains("status is now running"), "{retried}");
    let skipped = ok(&schema, &["skip", "shop", "p-2"]);
    assert!(skipped.contains("skipped event `Audit`"), "{skipped}");
    assert!(ok(&schema, &["parked"]).contains("0 parked instances"));
    let refused = pm_on(&schema, &["retry", "shop", "o-1"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("is running, not parked"));

    assert_eq!(
        inspector_rows(&client, &schema).await,
        0,
        "the inspector joined no node set and took no lease"
    );

    // The inspecting store itself refuses what would change ownership or state.
    let inspector = PostgresStore::inspect(&url(), &schema).await.unwrap();
    let refused = inspector.rebalance().await.unwrap_err();
    assert!(
        matches!(refused, pm_runtime::StoreError::ReadOnly { .. }),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("opened for inspection"),
        "{refused}"
    );
    assert_eq!(inspector_rows(&client, &schema).await, 0);

    client
        .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_schemas_and_unreachable_servers_exit_2_without_the_password() {
    let out = pm_on("pm_cli_no_such_schema", &["pms"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("no pm-runtime schema `pm_cli_no_such_schema`"),
        "{}",
        out.stderr
    );

    let out = pm_on("Not-An-Identifier", &["pms"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("not a plain identifier"),
        "{}",
        out.stderr
    );

    // Port 1: nothing listens there.
    let out = pm(&[
        "--db",
        "postgres://postgres:hunter2secret@127.0.0.1:1/test",
        "pms",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("postgres://postgres@127.0.0.1:1/test"),
        "names the server: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("Connection refused"),
        "says why: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("hunter2secret"), "{}", out.stderr);

    let out = pm(&["--db", "postgres://[bad", "pms"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stdout.is_empty());
}
