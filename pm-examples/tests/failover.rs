//! Three `pm-demo --postgres` nodes on one schema; one is killed with SIGKILL mid-run. The
//! survivors claim its partitions once its leases expire, and every saga ends completed or
//! compensated with each effect applied exactly once.
//!
//! Needs `PM_TEST_POSTGRES_URL` (CI sets it); fails, never skips, without it.

#![allow(clippy::unwrap_used)] // a test: a failure is the point

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pm_examples::demo::{saga_id, stock_refused};

const SAGAS: i64 = 3_000;
const REJECT_RATE: &str = "0.2";
const LEASE_TTL_MS: &str = "2000";

fn url() -> String {
    std::env::var("PM_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "PM_TEST_POSTGRES_URL is not set: this test needs a PostgreSQL server; set it, e.g. \
             PM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test (.ci/run does)"
        )
    })
}

fn node(schema: &str, id: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pm-demo"))
        .args(["--postgres", &url(), "--schema", schema, "--node", id])
        .args(["--sagas", &SAGAS.to_string(), "--reject-rate", REJECT_RATE])
        .args(["--lease-ttl-ms", LEASE_TTL_MS, "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

async fn client() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!("cannot reach the server of PM_TEST_POSTGRES_URL (is it running?): {e}")
        });
    tokio::spawn(connection);
    client
}

/// Waits for `child` up to `deadline`; kills it and fails past it.
fn wait(mut child: Child, deadline: Instant, name: &str) -> String {
    loop {
        if child.try_wait().unwrap().is_some() {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "{name} failed: {:?}",
                output.status
            );
            return String::from_utf8(output.stdout).unwrap();
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("{name} did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_s_partitions_are_taken_over_and_nothing_is_lost_or_doubled() {
    let schema = format!("pm_failover_{}", uuid::Uuid::new_v4().simple());
    let db = client().await;
    let nodes: Vec<(String, Child)> = ["n1", "n2", "n3"]
        .iter()
        .map(|id| (id.to_string(), node(&schema, id)))
        .collect();

    // Kill n2 once it holds partitions and sagas are moving.
    let finished_sql = format!(
        "SELECT count(*) FROM \"{schema}\".pm_instance \
         WHERE status IN ('completed', 'compensated')"
    );
    let finished = async |db: &tokio_postgres::Client| {
        db.query_one(&finished_sql, &[])
            .await
            .map(|r| r.get::<_, i64>(0))
            .unwrap_or(0)
    };
    let start = Instant::now();
    let held: Vec<(i32, i64)> = loop {
        assert!(start.elapsed() < Duration::from_secs(120), "no progress");
        tokio::time::sleep(Duration::from_millis(50)).await;
        if finished(&db).await < SAGAS / 10 {
            continue;
        }
        let held: Vec<(i32, i64)> = db
            .query(
                &format!("SELECT partition, epoch FROM \"{schema}\".pm_lease WHERE owner = 'n2'"),
                &[],
            )
            .await
            .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
            .unwrap_or_default();
        if !held.is_empty() {
            break held;
        }
    };
    let mut nodes = nodes;
    let (_, mut victim) = nodes.remove(1);
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();
    let at_kill = finished(&db).await;
    eprintln!(
        "killed n2 holding {} partitions; {at_kill}/{SAGAS} sagas finished",
        held.len()
    );
    assert!(
        at_kill < SAGAS,
        "the run ended before the kill; make it longer"
    );

    let deadline = Instant::now() + Duration::from_secs(300);
    for (name, child) in nodes {
        let line = wait(child, deadline, &name);
        let fields: HashMap<&str, &str> = line
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .collect();
        for zero in ["parked", "in_flight", "lost", "duplicate_effects"] {
            assert_eq!(fields[zero], "0", "{zero} in {name}: {line}");
        }
    }

    // Every partition n2 held was claimed again (its epoch moved on) by a survivor.
    for (partition, epoch) in &held {
        let now: i64 = db
            .query_one(
                &format!(
                    "SELECT epoch FROM \"{schema}\".pm_lease WHERE pm = 'order_fulfillment' AND partition = $1"
                ),
                &[partition],
            )
            .await
            .unwrap()
            .get(0);
        assert!(
            now > *epoch,
            "partition {partition} was never claimed after n2 died"
        );
    }

    // Check the outcome from the database, independently of the nodes' own accounting.
    let statuses: HashMap<String, String> = db
        .query(
            &format!("SELECT process_id, status FROM \"{schema}\".pm_instance"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut effects: HashMap<(String, String), i64> = HashMap::new();
    for r in db
        .query(
            &format!(
                "SELECT saga, command_type, count(*) FROM \"{schema}\".demo_effects \
                 GROUP BY saga, command_type"
            ),
            &[],
        )
        .await
        .unwrap()
    {
        effects.insert((r.get(0), r.get(1)), r.get(2));
    }
    let per_mille = (REJECT_RATE.parse::<f64>().unwrap() * 1000.0) as u32;
    for i in 0..SAGAS {
        let saga = saga_id(i);
        let refused = stock_refused(&saga, per_mille);
        let expected_status = if refused { "compensated" } else { "completed" };
        assert_eq!(
            statuses.get(&saga).map(String::as_str),
            Some(expected_status),
            "{saga}"
        );
        let count = |t: &str| {
            effects
                .get(&(saga.clone(), t.to_owned()))
                .copied()
                .unwrap_or(0)
        };
        let expected = if refused {
            [
                ("ChargePayment", 1),
                ("ReserveStock", 0),
                ("ShipOrder", 0),
                ("RefundPayment", 1),
            ]
        } else {
            [
                ("ChargePayment", 1),
                ("ReserveStock", 1),
                ("ShipOrder", 1),
                ("RefundPayment", 0),
            ]
        };
        for (command_type, n) in expected {
            assert_eq!(count(command_type), n, "{saga} {command_type}");
        }
    }
    assert_eq!(statuses.len() as i64, SAGAS);
    db.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
}
