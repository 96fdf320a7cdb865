//! Outgoing commands: ids, lineage, determinism, explicit compensation.

#![allow(clippy::unwrap_used)] // test helpers may panic: a failure is the point

mod common;

use common::*;
use pm_runtime::{Compensation, Event, EventEnvelope, ProcessId};
use uuid::Uuid;

#[tokio::test]
async fn commands_carry_causation_correlation_and_aggregate() {
    let recorder = Recorder::default();
    let rt = runtime(&recorder).await;

    let mut event = EventEnvelope::new(placed("o-1", 12));
    event.correlation_id = Some("checkout-77".into());
    rt.publish_envelope(event.clone()).await.unwrap();
    let uncorrelated = EventEnvelope::new(PaymentCharged {
        order_id: "o-1".into(),
    });
    rt.publish_envelope(uncorrelated.clone()).await.unwrap();
    rt.settled().await;

    let sent = recorder.sent();
    let charge = &sent[0];
    assert_eq!(charge.command_type, "ChargePayment");
    assert_eq!(
        (&*charge.aggregate_type, &*charge.aggregate_id),
        ("payment", "o-1")
    );
    assert_eq!(charge.causation_id, Some(event.event_id));
    assert_eq!(
        charge.correlation_id, "checkout-77",
        "inherited from the event"
    );
    let reserve = &sent[1];
    assert_eq!(reserve.causation_id, Some(uncorrelated.event_id));
    assert_eq!(
        reserve.correlation_id, "o-1",
        "the process id when the event has none"
    );
    assert_ne!(charge.command_id, reserve.command_id);
    assert_ne!(charge.idempotency_key, charge.command_id);
}

#[tokio::test]
async fn replaying_the_same_event_yields_the_same_command_ids() {
    let event = EventEnvelope::with_id(Uuid::from_u128(42), placed("o-2", 3));
    let mut ids = Vec::new();
    for _ in 0..2 {
        // A fresh runtime each time: as after a restart that lost everything.
        let recorder = Recorder::default();
        let rt = runtime(&recorder).await;
        rt.publish_envelope(event.clone()).await.unwrap();
        rt.settled().await;
        let sent = recorder.sent();
        assert_eq!(sent.len(), 1);
        ids.push((sent[0].command_id, sent[0].idempotency_key));
    }
    assert_eq!(ids[0], ids[1]);
    let expected =
        pm_runtime::CommandIds::derive("order", &ProcessId::from("o-2"), Uuid::from_u128(42), 0);
    assert_eq!(ids[0], (expected.command_id, expected.idempotency_key));
}

#[tokio::test]
async fn explicit_compensate_returns_commands_or_skip_without_dispatching() {
    let recorder = Recorder::default();
    let rt = runtime(&recorder).await;
    let h = rt.instance::<Order>("o-3").await.unwrap();
    h.handle_event(EventEnvelope::new(placed("o-3", 8)))
        .await
        .unwrap();
    rt.settled().await;
    let charge = recorder.sent().remove(0);

    match h.compensate(&charge).await.unwrap() {
        Compensation::Commands(commands) => {
            assert_eq!(commands.len(), 1);
            assert_eq!(commands[0].command_type, "RefundPayment");
            assert_eq!(commands[0].causation_id, Some(charge.command_id));
        }
        Compensation::Skip => panic!("ChargePayment has a compensation"),
    }
    // ReserveStock has no `#[compensate]` mapping.
    h.handle_event(EventEnvelope::new(PaymentCharged {
        order_id: "o-3".into(),
    }))
    .await
    .unwrap();
    rt.settled().await;
    let reserve = recorder.sent().remove(1);
    assert_eq!(reserve.command_type, "ReserveStock");
    assert!(matches!(
        h.compensate(&reserve).await.unwrap(),
        Compensation::Skip
    ));

    assert_eq!(recorder.sent().len(), 2, "compensate() dispatched nothing");
    assert!(
        h.get_state().await.unwrap().charged,
        "compensate() changed no state"
    );
    assert_eq!(OrderPlaced::NAME, "OrderPlaced");
}
