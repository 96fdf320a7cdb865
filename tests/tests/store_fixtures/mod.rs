//! Envelopes, commits and assertions shared by the store tests.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::borrow::Cow;

use pm_runtime::{
    CommandEnvelope, Commit, DeadLetter, EventEnvelope, InstanceStatus, Metadata, Payload,
    ProcessId, Store, StoreError, StoredInstance, Timer,
};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

pub const PM: &str = "order_fulfillment";
pub const OTHER: &str = "shipping";

pub fn pid(id: &str) -> ProcessId {
    ProcessId::new(id)
}

pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

pub fn metadata(n: u128) -> Metadata {
    let mut metadata = Metadata::new();
    metadata.insert("tenant".into(), json!("acme"));
    metadata.insert("n".into(), json!(n));
    metadata
}

#[derive(Serialize)]
pub struct ChargeCard {
    order_id: String,
    amount: u64,
}

/// A command with every field set; odd `n` carries a typed payload, even `n` a JSON one.
pub fn command(n: u128) -> CommandEnvelope {
    let payload = if n % 2 == 1 {
        Payload::typed(ChargeCard {
            order_id: format!("o-{n}"),
            amount: 10 * n as u64,
        })
    } else {
        Payload::json(json!({ "order_id": format!("o-{n}"), "amount": 10 * n }))
    };
    CommandEnvelope {
        command_id: id(n),
        command_type: Cow::Borrowed("ChargeCard"),
        aggregate_type: Cow::Borrowed("payment"),
        aggregate_id: format!("pay-{n}"),
        payload,
        metadata: metadata(n),
        causation_id: Some(id(1_000 + n)),
        correlation_id: format!("corr-{n}"),
        idempotency_key: id(2_000 + n),
    }
}

pub fn event(n: u128) -> EventEnvelope {
    EventEnvelope {
        event_id: id(n),
        event_type: Cow::Owned(format!("Event{n}")),
        stream_id: Some(format!("order-{n}")),
        position: Some(n as u64),
        correlation_id: Some("corr".into()),
        causation_id: Some(id(3_000 + n)),
        metadata: metadata(n),
        payload: Payload::json(json!({ "n": n, "nested": { "list": [1, 2, 3] } })),
    }
}

pub fn timer(n: u128, due_at_ms: u64) -> Timer {
    Timer {
        timer_id: id(n),
        due_at_ms,
        event: event(n),
    }
}

pub fn dead_letter() -> DeadLetter {
    DeadLetter {
        event: Some(event(77)),
        command: Some(command(78)),
        error: "handler returned an error: boom".into(),
        attempts: 5,
        parked_at_ms: 4_242,
        resume: InstanceStatus::Compensating,
    }
}

pub fn commit(pm: &'static str, process_id: &str, revision: u64, at_ms: u64) -> Commit {
    Commit::new(
        pm,
        pid(process_id),
        revision,
        InstanceStatus::Running,
        at_ms,
    )
}

pub async fn load(store: &dyn Store, pm: &str, process_id: &str) -> StoredInstance {
    store.load(pm, &pid(process_id)).await.unwrap().unwrap()
}

/// Envelopes as JSON: every field, payload included, whatever form the payload is in.
pub fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap()
}

pub fn assert_commands(found: &[CommandEnvelope], expected: &[CommandEnvelope]) {
    let ids = |cs: &[CommandEnvelope]| cs.iter().map(|c| c.command_id).collect::<Vec<_>>();
    assert_eq!(ids(found), ids(expected), "commands and their order");
    for (f, e) in found.iter().zip(expected) {
        assert_eq!(f.command_type, e.command_type);
        assert_eq!(f.aggregate_type, e.aggregate_type);
        assert_eq!(f.aggregate_id, e.aggregate_id);
        assert_eq!(f.payload.to_json().unwrap(), e.payload.to_json().unwrap());
        assert_eq!(f.metadata, e.metadata);
        assert_eq!(f.causation_id, e.causation_id);
        assert_eq!(f.correlation_id, e.correlation_id);
        assert_eq!(f.idempotency_key, e.idempotency_key);
        assert_eq!(to_json(f), to_json(e), "every field of {}", e.command_id);
    }
}

pub fn assert_events(found: &[EventEnvelope], expected: &[EventEnvelope]) {
    let ids = |es: &[EventEnvelope]| es.iter().map(|e| e.event_id).collect::<Vec<_>>();
    assert_eq!(ids(found), ids(expected), "events and their order");
    for (f, e) in found.iter().zip(expected) {
        assert_eq!(f.event_type, e.event_type);
        assert_eq!(f.stream_id, e.stream_id);
        assert_eq!(f.position, e.position);
        assert_eq!(f.correlation_id, e.correlation_id);
        assert_eq!(f.causation_id, e.causation_id);
        assert_eq!(f.metadata, e.metadata);
        assert_eq!(f.payload.to_json().unwrap(), e.payload.to_json().unwrap());
        assert_eq!(to_json(f), to_json(e), "every field of {}", e.event_id);
    }
}

pub fn assert_timers(found: &[Timer], expected: &[Timer]) {
    assert_eq!(
        to_json(&found),
        to_json(&expected),
        "timers and their order"
    );
}

pub fn assert_conflict(error: StoreError, process_id: &str, expected: u64, found: u64) {
    let message = error.to_string();
    match error {
        StoreError::Conflict {
            pm,
            process_id: id,
            expected: e,
            found: f,
        } => {
            assert_eq!((pm.as_str(), id.as_str()), (PM, process_id));
            assert_eq!((e, f), (expected, found), "expected and found revisions");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(
        message.contains(PM) && message.contains(process_id),
        "{message}"
    );
}
