//! Kill `pm-demo` with SIGKILL at random moments, restart it each time, and check that every
//! saga ends completed or compensated with each effect applied exactly once.

#![allow(clippy::unwrap_used)] // a test: a failure is the point

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pm_examples::demo::{saga_id, stock_refused};

const KILLS: usize = 24;
const SAGAS: i64 = 24_000;
const REJECT_RATE: &str = "0.2";

/// A small xorshift generator: reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn demo(db: &Path, sagas: i64) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pm-demo"));
    cmd.args(["--db", db.to_str().unwrap(), "--sagas", &sagas.to_string()])
        .args(["--reject-rate", REJECT_RATE, "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    cmd
}

fn scratch_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("pm-crash-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn killed_at_random_moments_the_demo_loses_and_duplicates_nothing() {
    let dir = scratch_dir();
    let db = dir.join("sagas.db");
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed}, database {}", db.display());
    let mut rng = Rng(seed);

    let mut killed = 0;
    for round in 0..KILLS {
        // Each run asks for more sagas, so new ones start while old ones are in flight.
        let sagas = SAGAS * (round as i64 + 1) / KILLS as i64;
        let mut child = demo(&db, sagas).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_millis(10 + rng.below(200));
        while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
    }
    assert!(
        killed >= 20,
        "only {killed} runs were killed mid-flight; make them longer"
    );

    let output = demo(&db, SAGAS).output().unwrap();
    assert!(
        output.status.success(),
        "final run failed: {:?}",
        output.status
    );
    let line = String::from_utf8(output.stdout).unwrap();
    let fields: HashMap<&str, &str> = line
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let number = |k: &str| fields[k].parse::<i64>().unwrap();
    assert_eq!(number("sagas"), SAGAS, "{line}");
    assert_eq!(number("completed") + number("compensated"), SAGAS, "{line}");
    for zero in ["parked", "in_flight", "lost", "duplicate_effects"] {
        assert_eq!(number(zero), 0, "{zero} in {line}");
    }

    // Check the effects independently of the demo's own accounting.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT saga, command_type, COUNT(*) FROM demo_effects GROUP BY saga, command_type",
        )
        .unwrap();
    let mut effects: HashMap<(String, String), i64> = HashMap::new();
    for row in stmt
        .query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
        .unwrap()
    {
        let (key, count) = row.unwrap();
        effects.insert(key, count);
    }
    let per_mille = (REJECT_RATE.parse::<f64>().unwrap() * 1000.0) as u32;
    for i in 0..SAGAS {
        let saga = saga_id(i);
        let count = |t: &str| {
            effects
                .get(&(saga.clone(), t.to_owned()))
                .copied()
                .unwrap_or(0)
        };
        let expected = if stock_refused(&saga, per_mille) {
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
            assert_eq!(
                count(command_type),
                n,
                "{saga} {command_type} (seed {seed})"
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
