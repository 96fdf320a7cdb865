//! Poison events park their instance; others go on; operators retry or skip.

#![allow(clippy::unwrap_used)] // test helpers may panic: a failure is the point

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use common::Recorder;
use pm_runtime::{
    Error, Event, HandlerError, InstanceStatus, RetryPolicy, Runtime, process_manager,
};
use serde::{Deserialize, Serialize};

/// Whether the poison handler fails; the "fix" an operator deploys flips it.
static BROKEN: AtomicBool = AtomicBool::new(true);

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Opened {
    id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Poison {
    id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Noted {
    id: String,
    n: u32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Ledger {
    notes: Vec<u32>,
    poison_handled: bool,
}

#[process_manager(name = "ledger", correlate = id)]
impl Ledger {
    #[start]
    fn opened(&mut self, _e: &Opened) {}

    #[handle]
    fn poison(&mut self, _e: &Poison) {
        if BROKEN.load(Ordering::SeqCst) {
            panic!("cannot digest this");
        }
        self.poison_handled = true;
    }

    #[handle]
    fn noted(&mut self, e: &Noted) {
        self.notes.push(e.n);
    }
}

async fn runtime() -> Runtime {
    Runtime::builder()
        .dispatcher(Recorder::default())
        .handler_retry(RetryPolicy {
            max_attempts: 3,
            initial_backoff: std::time::Duration::from_millis(1),
            max_backoff: std::time::Duration::from_millis(5),
        })
        .register::<Ledger>()
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_poison_event_parks_its_instance_holds_later_events_and_does_not_block_others() {
    BROKEN.store(true, Ordering::SeqCst);
    let rt = runtime().await;
    for id in ["a", "b"] {
        rt.publish(Opened { id: id.into() }).await.unwrap();
    }
    let err = rt.publish(Poison { id: "a".into() }).await.unwrap_err();
    assert!(
        matches!(&err, Error::Handler { source: HandlerError::Panicked(_), process_id, .. } if process_id.as_str() == "a"),
        "{err}"
    );
    assert_eq!(
        rt.status::<Ledger>("a").await.unwrap(),
        InstanceStatus::Parked
    );
    assert_eq!(rt.stats().handler_failures, 3, "retried up to the bound");

    // The parked instance holds new events; the other instance goes on.
    let held = rt
        .publish(Noted {
            id: "a".into(),
            n: 1,
        })
        .await
        .unwrap();
    assert_eq!(held.parked, 1);
    rt.publish(Noted {
        id: "b".into(),
        n: 7,
    })
    .await
    .unwrap();
    assert_eq!(rt.state::<Ledger>("b").await.unwrap().notes, [7]);
    assert!(rt.state::<Ledger>("a").await.unwrap().notes.is_empty());

    let parked = rt.parked().await.unwrap();
    assert_eq!(parked.len(), 1);
    let dead = parked[0].dead_letter.as_ref().unwrap();
    assert_eq!((parked[0].pm, dead.attempts), ("ledger", 3));
    assert_eq!(dead.event.as_ref().unwrap().event_type, "Poison");
    assert!(dead.error.contains("cannot digest this"), "{}", dead.error);

    // Retrying while still broken parks again and says why.
    assert!(rt.retry_parked::<Ledger>("a").await.is_err());
    assert_eq!(
        rt.status::<Ledger>("a").await.unwrap(),
        InstanceStatus::Parked
    );

    // After the fix, a retry handles the poison event, then the held one, in order.
    BROKEN.store(false, Ordering::SeqCst);
    rt.retry_parked::<Ledger>("a").await.unwrap();
    let state: Ledger = rt.state("a").await.unwrap();
    assert!(state.poison_handled);
    assert_eq!(state.notes, [1]);
    assert_eq!(
        rt.status::<Ledger>("a").await.unwrap(),
        InstanceStatus::Running
    );
    assert!(rt.parked().await.unwrap().is_empty());
    assert!(matches!(
        rt.retry_parked::<Ledger>("a").await,
        Err(Error::NotParked { .. })
    ));
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stubborn {
    notes: Vec<u32>,
}

#[process_manager(name = "stubborn", correlate = id)]
impl Stubborn {
    #[start]
    fn opened(&mut self, _e: &Opened) {}

    #[handle]
    fn poison(&mut self, _e: &Poison) -> Result<(), String> {
        Err("always".into())
    }

    #[handle]
    fn noted(&mut self, e: &Noted) {
        self.notes.push(e.n);
    }
}

#[tokio::test]
async fn skipping_a_poison_event_marks_it_handled_and_replays_held_events() {
    let rt = Runtime::builder()
        .dispatcher(Recorder::default())
        .handler_retry(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        })
        .register::<Stubborn>()
        .start()
        .await
        .unwrap();
    rt.publish(Opened { id: "s".into() }).await.unwrap();
    let poison = pm_runtime::EventEnvelope::new(Poison { id: "s".into() });
    assert!(rt.publish_envelope(poison.clone()).await.is_err());
    rt.publish(Noted {
        id: "s".into(),
        n: 1,
    })
    .await
    .unwrap();
    rt.publish(Noted {
        id: "s".into(),
        n: 2,
    })
    .await
    .unwrap();

    rt.skip_parked::<Stubborn>("s").await.unwrap();
    assert_eq!(rt.state::<Stubborn>("s").await.unwrap().notes, [1, 2]);
    // The skipped event counts as handled: a redelivery is a duplicate, not a new failure.
    let again = rt.publish_envelope(poison).await.unwrap();
    assert_eq!(again.duplicates, 1);
}
