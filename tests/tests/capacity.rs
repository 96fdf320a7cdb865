//! Passivation and backpressure.

#![allow(clippy::unwrap_used)] // test helpers may panic: a failure is the point

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use pm_runtime::{CommandDispatcher, CommandEnvelope, DispatchError, Runtime};
use tokio::sync::Semaphore;

#[tokio::test]
async fn state_survives_passivation() {
    let recorder = Recorder::default();
    let rt = Runtime::builder()
        .dispatcher(recorder.clone())
        .idle_timeout(Duration::from_millis(20))
        .register::<Order>()
        .start()
        .await
        .unwrap();
    rt.publish(placed("o-1", 10)).await.unwrap();
    rt.publish(OrderNoted {
        order_id: "o-1".into(),
        note: "before".into(),
    })
    .await
    .unwrap();
    rt.settled().await;
    assert_eq!(rt.live_instances::<Order>().unwrap(), 1);

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rt.live_instances::<Order>().unwrap(), 0, "passivated");
    assert_eq!(rt.stats().passivated, 1);

    rt.publish(OrderNoted {
        order_id: "o-1".into(),
        note: "after".into(),
    })
    .await
    .unwrap();
    let state: Order = rt.state("o-1").await.unwrap();
    assert_eq!(state.notes, ["before", "after"]);
    assert_eq!(state.amount, 10);
}

/// Lets a command through only when the test hands out a permit.
#[derive(Clone)]
struct Gate {
    permits: Arc<Semaphore>,
    recorder: Recorder,
}

impl CommandDispatcher for Gate {
    async fn dispatch(&self, command: &CommandEnvelope) -> Result<(), DispatchError> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| DispatchError::Unavailable("closed".into()))?;
        permit.forget();
        self.recorder.dispatch(command).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_dispatcher_slows_intake_and_loses_nothing() {
    const EVENTS: usize = 1_000;
    const MAX_OUTBOX: usize = 8;
    const MAILBOX: usize = 4;
    let gate = Gate {
        permits: Arc::new(Semaphore::new(0)),
        recorder: Recorder::default(),
    };
    let rt = Runtime::builder()
        .dispatcher(gate.clone())
        .mailbox_capacity(MAILBOX)
        .max_outbox(MAX_OUTBOX)
        .register::<Order>()
        .start()
        .await
        .unwrap();

    // Each placed order is its own instance only if ids differ; use one instance so the
    // commands pile up behind one outbox: a repeated start re-charges.
    let publisher = {
        let rt = rt.clone();
        tokio::spawn(async move {
            for i in 0..EVENTS {
                rt.publish(placed("hot", i as u64)).await.unwrap();
            }
        })
    };
    // The dispatcher takes 100 commands: a tenth of what is offered.
    gate.permits.add_permits(EVENTS / 10);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stats = rt.stats();
    assert!(!publisher.is_finished(), "the publisher is held back");
    assert!(
        stats.outbox_peak as usize <= MAX_OUTBOX,
        "outbox bounded: {stats:?}"
    );
    let handled = stats.handled as usize;
    assert!(
        handled <= EVENTS / 10 + MAX_OUTBOX + MAILBOX + 2,
        "intake follows the dispatcher: {handled} handled"
    );

    gate.permits.add_permits(EVENTS);
    publisher.await.unwrap();
    rt.settled().await;
    let sent = gate.recorder.sent();
    assert_eq!(sent.len(), EVENTS, "every command went out once");
    let amounts: Vec<u64> = sent
        .iter()
        .map(|c| c.decode::<ChargePayment>().unwrap().amount)
        .collect();
    assert_eq!(
        amounts,
        (0..EVENTS as u64).collect::<Vec<_>>(),
        "in order, none lost"
    );
    assert!(rt.stats().outbox_peak as usize <= MAX_OUTBOX);
}
