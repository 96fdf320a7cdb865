//! `pm` end to end: a runtime writes a real SQLite file (running, parked, completed and
//! compensated instances, a command stuck in an outbox), then the binary reads and repairs it.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command as Process;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pm_runtime::prelude::*;
use pm_runtime::{RetryPolicy, SqliteStore};
use serde::{Deserialize, Serialize};

/// Whether the audit handler fails; the test "deploys the fix" by clearing it.
static AUDIT_BROKEN: AtomicBool = AtomicBool::new(true);

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Ordered {
    id: String,
    amount: u64,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Audit {
    id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Paid {
    id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Shipped {
    id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "payment", id = id)]
struct Charge {
    id: String,
    amount: u64,
}
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "shipping", id = id)]
struct Ship {
    id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "payment", id = id)]
struct Refund {
    id: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Shop {
    amount: u64,
    audited: bool,
    paid: bool,
}

#[process_manager(name = "shop", correlate = id, commands(Charge, Ship, Refund))]
impl Shop {
    #[start]
    fn ordered(&mut self, e: &Ordered) -> Charge {
        self.amount = e.amount;
        Charge {
            id: e.id.clone(),
            amount: e.amount,
        }
    }

    #[handle]
    fn audit(&mut self, _e: &Audit) {
        if AUDIT_BROKEN.load(Ordering::SeqCst) {
            panic!("the auditor is out");
        }
        self.audited = true;
    }

    #[handle]
    fn paid(&mut self, e: &Paid) -> Ship {
        self.paid = true;
        Ship { id: e.id.clone() }
    }

    #[stop]
    fn shipped(&mut self, _e: &Shipped) {}

    #[compensate(Charge)]
    fn refund(&mut self, c: &Charge) -> Refund {
        Refund { id: c.id.clone() }
    }
}

/// Refuses charges over 1000; the shipping side of `o-*` orders is down.
struct Side;

impl CommandDispatcher for Side {
    async fn dispatch(&self, c: &CommandEnvelope) -> Result<(), DispatchError> {
        if c.is::<Charge>() && c.decode::<Charge>().unwrap().amount > 1000 {
            return Err(DispatchError::Rejected("over the limit".into()));
        }
        if c.is::<Ship>() && c.aggregate_id.starts_with("o-") {
            return Err(DispatchError::Unavailable("shipping is down".into()));
        }
        Ok(())
    }
}

async fn runtime(path: &Path) -> Runtime {
    Runtime::builder()
        .store(SqliteStore::open(path).unwrap())
        .dispatcher(Side)
        .handler_retry(RetryPolicy {
            max_attempts: 1,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
        })
        // A failed shipment waits an hour: it is still in the outbox when the test looks.
        .command_retry(RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_secs(3600),
            max_backoff: Duration::from_secs(3600),
        })
        .register::<Shop>()
        .start()
        .await
        .unwrap()
}

/// `c-1` completed, `x-1` compensated, `o-1` running with `Ship` in its outbox, `p-1` and
/// `p-2` parked on `Audit` with `Paid` held in their stash.
async fn populate(path: &Path) {
    let rt = runtime(path).await;
    let ordered = |id: &str, amount| Ordered {
        id: id.into(),
        amount,
    };
    for id in ["c-1", "o-1", "p-1", "p-2"] {
        rt.publish(ordered(id, 40)).await.unwrap();
    }
    rt.publish(ordered("x-1", 5000)).await.unwrap();
    rt.settled().await;
    rt.publish(Paid { id: "c-1".into() }).await.unwrap();
    rt.publish(Shipped { id: "c-1".into() }).await.unwrap();
    rt.publish(Paid { id: "o-1".into() }).await.unwrap();
    for id in ["p-1", "p-2"] {
        assert!(rt.publish(Audit { id: id.into() }).await.is_err());
        rt.publish(Paid { id: id.into() }).await.unwrap();
    }
    // Wait for the shipment's first (failed) attempt: `settled` would wait for the retry.
    for _ in 0..500 {
        if rt.stats().command_failures >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rt.shutdown().await.unwrap();
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn pm(args: &[&str]) -> Output {
    let out = Process::new(env!("CARGO_BIN_EXE_pm"))
        .args(args)
        .output()
        .unwrap();
    Output {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

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
    populate(&db).await;

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
    let rt = runtime(&db).await;
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
    runtime(&db).await.shutdown().await.unwrap();

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

    let out = pm(&["--db", "postgres://user@localhost/sagas", "pms"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("PostgreSQL URLs are not supported yet"),
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
