//! `pm` end to end: a runtime writes a real SQLite file (running, parked, completed and
//! compensated instances, a command stuck in an outbox), then the binary reads and repairs it.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use pm_runtime::SqliteStore;

fn ok(db: &Path, args: &[&str]) -> String {
    let db = db.to_str().unwrap();
    let out = pm(&[&["--db", db], args].concat());
    assert_eq!(out.code, 0, "pm {args:?} failed: {}", out.stderr);
    out.stdout
}

fn fails(db: &Path, args: &[&str], code: i32) -> String {
    let db = db.to_str().unwrap();
    let out = pm(&[&["--db", db], args].concat());
    assert_eq!(out.code, code, "pm {args:?}: {}{}", out.stdout, out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    out.stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pm_reads_and_repairs_a_database_the_runtime_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sagas.db");
    populate(SqliteStore::open(&db).unwrap()).await;

    let pms = ok(&db, &["pms"]);
    assert!(
        pms.contains("shop  v1  5 instances (running 1, parked 2, completed 1, compensated 1)"),
        "{pms}"
    );
    assert!(
        pms.contains("events: Ordered, Audit, Paid, Shipped"),
        "{pms}"
    );

    let list = ok(&db, &["list", "shop"]);
    for line in [
        "c-1         completed",
        "o-1         running",
        "5 of 5 instances",
    ] {
        assert!(list.contains(line), "{line:?} in\n{list}");
    }
    let parked = ok(&db, &["list", "shop", "--status", "parked"]);
    assert!(parked.contains("p-1") && parked.contains("p-2"), "{parked}");
    assert!(
        !parked.contains("o-1") && parked.contains("2 of 5"),
        "{parked}"
    );

    let show = ok(&db, &["show", "shop", "o-1"]);
    for part in [
        "shop/o-1\nstatus:    running\nrevision:  3\n",
        "\"amount\": 40,",
        "handled events (2):",
        "outbox (1):\n  Ship -> shipping/o-1 {\"id\":\"o-1\"}",
        "completed commands (1):\n  Charge -> payment/o-1 {\"amount\":40,\"id\":\"o-1\"}",
        "dead letter: none",
        "stash (0):",
    ] {
        assert!(show.contains(part), "{part:?} in\n{show}");
    }

    let json: serde_json::Value =
        serde_json::from_str(&ok(&db, &["show", "shop", "p-1", "--json"])).unwrap();
    assert_eq!(json["status"], "parked");
    assert_eq!(json["dead_letter"]["event"]["event_type"], "Audit");
    assert_eq!(json["stash"][0]["event_type"], "Paid");
    assert_eq!(json["state"]["amount"], 40);

    let outbox = ok(&db, &["outbox"]);
    assert!(
        outbox.contains("shop/o-1  #1  Ship -> shipping/o-1"),
        "{outbox}"
    );
    assert!(outbox.ends_with("1 command waiting\n"), "{outbox}");

    let parked = ok(&db, &["parked"]);
    for part in [
        "shop/p-1\n",
        "after 1 attempt: handler panicked: the auditor is out",
        "event:   Audit {\"id\":\"p-1\"}",
        "1 event(s) held in its stash",
        "2 parked instances",
    ] {
        assert!(parked.contains(part), "{part:?} in\n{parked}");
    }

    let diagram = ok(&db, &["diagram", "shop"]);
    assert!(diagram.starts_with("flowchart"), "{diagram}");
    assert_eq!(diagram.trim_end(), Shop::DIAGRAM.trim_end());

    // Operator actions, with the runtime stopped.
    let refused = fails(&db, &["retry", "shop", "o-1"], 1);
    assert!(
        refused.contains("`shop` instance `o-1` is running, not parked"),
        "{refused}"
    );
    let retried = ok(&db, &["retry", "shop", "p-1"]);
    assert!(retried.contains("retried event `Audit`"), "{retried}");
    assert!(retried.contains("status is now running"), "{retried}");
    assert!(
        retried.contains("Runtime::retry_parked"),
        "the warning: {retried}"
    );
    let skipped = ok(&db, &["skip", "shop", "p-2"]);
    assert!(skipped.contains("skipped event `Audit`"), "{skipped}");
    let after = ok(&db, &["show", "shop", "p-1"]);
    assert!(
        after.contains("stash (2):\n  Audit "),
        "retried first: {after}"
    );
    assert!(ok(&db, &["parked"]).contains("0 parked instances"));

    // The fix is deployed and a runtime starts on the file: both resume from their stash.
    AUDIT_BROKEN.store(false, Ordering::SeqCst);
    let rt = runtime(SqliteStore::open(&db).unwrap()).await;
    for _ in 0..500 {
        if rt.stats().commands_dispatched >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let p1: Shop = rt.state("p-1").await.unwrap();
    assert!(p1.audited && p1.paid, "{p1:?}");
    let p2: Shop = rt.state("p-2").await.unwrap();
    assert!(!p2.audited && p2.paid, "{p2:?}");
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_get_a_clear_message_and_their_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sagas.db");
    let rt = runtime(SqliteStore::open(&db).unwrap()).await;
    rt.shutdown().await.unwrap();

    let missing = dir.path().join("nope.db");
    let message = fails(&missing, &["pms"], 2);
    assert!(message.contains("no database at"), "{message}");
    assert!(!missing.exists(), "a typo leaves no empty database behind");

    let junk = dir.path().join("junk.db");
    std::fs::write(
        &junk,
        "this is not a database, just text long enough to matter.....",
    )
    .unwrap();
    let message = fails(&junk, &["pms"], 2);
    assert!(
        message.contains("cannot open") && message.contains("not a SQLite database"),
        "{message}"
    );

    let message = fails(dir.path(), &["pms"], 2);
    assert!(message.contains("not a file"), "{message}");

    let db_str = db.to_str().unwrap();
    let out = pm(&["--db", db_str, "--schema", "x", "pms"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("`--schema` goes with a PostgreSQL"),
        "{}",
        out.stderr
    );

    let out = pm(&[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("usage: pm --db PATH COMMAND"),
        "{}",
        out.stderr
    );
    let out = pm(&["help"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("retry PM ID"), "{}", out.stdout);

    let message = fails(&db, &["list", "nope"], 1);
    assert!(
        message.contains("no process manager `nope` in this database; known: shop"),
        "{message}"
    );
    let message = fails(&db, &["show", "shop", "o-9"], 1);
    assert!(message.contains("no instance `o-9` of `shop`"), "{message}");
    let message = fails(&db, &["list", "shop", "--status", "asleep"], 2);
    assert!(message.contains("unknown status `asleep`"), "{message}");
    let empty = ok(&db, &["list", "shop"]);
    assert!(empty.contains("0 of 0 instances"), "{empty}");
}
