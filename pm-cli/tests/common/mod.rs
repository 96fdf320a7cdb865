//! The saga both CLI test files populate a store with, and running the `pm` binary.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::process::Command as Process;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pm_runtime::prelude::*;
use pm_runtime::{RetryPolicy, Store};
use serde::{Deserialize, Serialize};

/// Whether the audit handler fails; the test "deploys the fix" by clearing it.
pub static AUDIT_BROKEN: AtomicBool = AtomicBool::new(true);

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Ordered {
    pub id: String,
    pub amount: u64,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Audit {
    pub id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Paid {
    pub id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Shipped {
    pub id: String,
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
pub struct Shop {
    pub amount: u64,
    pub audited: bool,
    pub paid: bool,
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
pub struct Side;

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

pub async fn runtime(store: impl Store) -> Runtime {
    Runtime::builder()
        .store(store)
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
/// `p-2` parked on `Audit` with `Paid` held in their stash. The events come in envelopes, as
/// a source delivers them, so the instances record their ids.
pub async fn populate(store: impl Store) {
    let rt = runtime(store).await;
    let ordered = |id: &str, amount| Ordered {
        id: id.into(),
        amount,
    };
    for id in ["c-1", "o-1", "p-1", "p-2"] {
        rt.publish_envelope(EventEnvelope::new(ordered(id, 40)))
            .await
            .unwrap();
    }
    rt.publish_envelope(EventEnvelope::new(ordered("x-1", 5000)))
        .await
        .unwrap();
    rt.settled().await;
    rt.publish_envelope(EventEnvelope::new(Paid { id: "c-1".into() }))
        .await
        .unwrap();
    rt.publish_envelope(EventEnvelope::new(Shipped { id: "c-1".into() }))
        .await
        .unwrap();
    rt.publish_envelope(EventEnvelope::new(Paid { id: "o-1".into() }))
        .await
        .unwrap();
    for id in ["p-1", "p-2"] {
        assert!(
            rt.publish_envelope(EventEnvelope::new(Audit { id: id.into() }))
                .await
                .is_err()
        );
        rt.publish_envelope(EventEnvelope::new(Paid { id: id.into() }))
            .await
            .unwrap();
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

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn pm(args: &[&str]) -> Output {
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
