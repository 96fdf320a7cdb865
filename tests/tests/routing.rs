//! Routing: start / continue / stop / ignore, missing-instance policies, PM isolation.

#![allow(clippy::unwrap_used)] // test helpers may panic: a failure is the point

mod common;

use common::*;
use pm_runtime::{Error, Event, EventEnvelope, InstanceStatus, Refusal, Runtime, process_manager};
use serde::{Deserialize, Serialize};

#[tokio::test]
async fn start_continue_and_stop_drive_one_instance() {
    let recorder = Recorder::default();
    let rt = runtime(&recorder).await;

    let started = rt.publish(placed("o-1", 40)).await.unwrap();
    assert_eq!(started.handled, 2, "Order and Audit both start an instance");
    assert_eq!(
        rt.status::<Order>("o-1").await.unwrap(),
        InstanceStatus::Running
    );

    rt.publish(PaymentCharged {
        order_id: "o-1".into(),
    })
    .await
    .unwrap();
    rt.publish(StockReserved {
        order_id: "o-1".into(),
    })
    .await
    .unwrap();
    rt.publish(OrderShipped {
        order_id: "o-1".into(),
    })
    .await
    .unwrap();
    rt.settled().await;

    assert_eq!(
        rt.status::<Order>("o-1").await.unwrap(),
        InstanceStatus::Completed
    );
    assert_eq!(
        recorder.log_for("o-1"),
        ["ChargePayment", "ReserveStock", "ShipOrder"]
    );
}

#[tokio::test]
async fn an_event_no_handler_wants_is_ignored() {
    #[derive(Debug, Clone, Serialize, Deserialize, Event)]
    struct Unrelated {
        order_id: String,
    }
    let recorder = Recorder::default();
    let rt = runtime(&recorder).await;
    let published = rt
        .publish(Unrelated {
            order_id: "o-1".into(),
        })
        .await
        .unwrap();
    assert_eq!((published.handled, published.ignored), (0, 0));
    assert!(matches!(
        rt.status::<Order>("o-1").await,
        Err(Error::NotFound { pm: "order", .. })
    ));
}

#[tokio::test]
async fn continuing_a_missing_instance_is_ignored_and_counted_by_default() {
    let recorder = Recorder::default();
    let rt = runtime(&recorder).await;
    let published = rt
        .publish(PaymentCharged {
            order_id: "ghost".into(),
        })
        .await
        .unwrap();
    assert_eq!((published.handled, published.ignored), (0, 1));
    assert_eq!(rt.stats().ignored_missing, 1);
    assert!(matches!(
        rt.status::<Order>("ghost").await,
        Err(Error::NotFound { .. })
    ));
    rt.settled().await;
    assert!(
        recorder.log().is_empty(),
        "nothing was dispatched for a missing instance"
    );
}

#[tokio::test]
async fn stopping_a_missing_instance_does_not_create_it() {
    let recorder = Recorder::default();
    let rt = runtime(&recorder).await;
    let published = rt
        .publish(OrderShipped {
            order_id: "ghost".into(),
        })
        .await
        .unwrap();
    assert_eq!(published.ignored, 1);
    assert!(matches!(
        rt.status::<Order>("ghost").await,
        Err(Error::NotFound { .. })
    ));
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Ping {
    key: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Open {
    key: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Lenient {
    pings: u32,
}
#[process_manager(name = "lenient", correlate = key, missing = "start")]
impl Lenient {
    #[start]
    fn open(&mut self, _e: &Open) {}
    #[handle]
    fn ping(&mut self, _e: &Ping) {
        self.pings += 1;
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Strict {
    pings: u32,
}
#[process_manager(name = "strict", correlate = key, missing = "error")]
impl Strict {
    #[start(new)]
    fn open(&mut self, _e: &Open) {}
    #[handle]
    fn ping(&mut self, _e: &Ping) {
        self.pings += 1;
    }
}

async fn policy_runtime() -> Runtime {
    Runtime::builder()
        .dispatcher(Recorder::default())
        .register::<Lenient>()
        .register::<Strict>()
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn missing_start_policy_starts_the_instance_and_error_policy_refuses() {
    let rt = policy_runtime().await;
    let err = rt.publish(Ping { key: "k".into() }).await.unwrap_err();
    match err {
        Error::Refused {
            pm,
            process_id,
            reason,
            ..
        } => {
            assert_eq!(
                (pm, process_id.as_str(), reason),
                ("strict", "k", Refusal::Missing)
            );
        }
        other => panic!("expected a refusal, got {other}"),
    }
    // The lenient PM started its instance from the continuing event.
    assert_eq!(rt.state::<Lenient>("k").await.unwrap().pings, 1);
    let message = rt
        .publish(Ping { key: "k2".into() })
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("`strict` instance `k2`"), "{message}");
}

#[tokio::test]
async fn start_new_on_an_existing_instance_is_refused_by_name() {
    let rt = policy_runtime().await;
    rt.publish(Open { key: "k".into() }).await.unwrap();
    let err = rt.publish(Open { key: "k".into() }).await.unwrap_err();
    assert!(
        matches!(&err, Error::Refused { pm: "strict", reason: Refusal::AlreadyStarted, process_id, .. } if process_id.as_str() == "k"),
        "{err}"
    );
    // `#[start]` (not `new`) on the lenient PM continued its existing instance.
    assert_eq!(rt.stats().refused, 1);
}

#[tokio::test]
async fn a_repeated_start_continues_the_one_instance() {
    let recorder = Recorder::default();
    let rt = runtime(&recorder).await;
    rt.publish(placed("o-2", 10)).await.unwrap();
    rt.publish(placed("o-2", 20)).await.unwrap();
    rt.settled().await;
    assert_eq!(rt.live_instances::<Order>().unwrap(), 1);
    assert_eq!(rt.state::<Order>("o-2").await.unwrap().amount, 20);
    assert_eq!(rt.stats().started, 2, "one Order and one Audit instance");
    assert_eq!(
        rt.state::<Audit>("o-2").await.unwrap().entries,
        ["placed 10", "placed 20"]
    );
}

#[tokio::test]
async fn two_pm_types_sharing_an_event_and_process_id_do_not_cross_talk() {
    let recorder = Recorder::default();
    let rt = runtime(&recorder).await;
    rt.publish(placed("shared", 5)).await.unwrap();
    rt.publish(OrderNoted {
        order_id: "shared".into(),
        note: "hello".into(),
    })
    .await
    .unwrap();
    let order: Order = rt.state("shared").await.unwrap();
    let audit: Audit = rt.state("shared").await.unwrap();
    assert_eq!(order.notes, ["hello"], "Order saw the note exactly once");
    assert_eq!(
        audit.entries,
        ["placed 5", "noted hello"],
        "Audit saw each event once"
    );
}

#[tokio::test]
async fn a_completed_instance_is_a_tombstone_for_late_starts() {
    let recorder = Recorder::default();
    let rt = runtime(&recorder).await;
    rt.publish(placed("o-3", 1)).await.unwrap();
    rt.publish(OrderShipped {
        order_id: "o-3".into(),
    })
    .await
    .unwrap();
    rt.settled().await;
    let before = recorder.log_for("o-3");

    // A redelivered start (same id) and a late one (new id) must not resurrect it.
    let late = rt.publish(placed("o-3", 99)).await.unwrap();
    assert_eq!(late.ignored, 1);
    rt.settled().await;
    assert_eq!(recorder.log_for("o-3"), before, "no new commands");
    let state: Order = rt.state("o-3").await.unwrap();
    assert_eq!((state.amount, state.shipped), (1, true));
    assert_eq!(
        rt.status::<Order>("o-3").await.unwrap(),
        InstanceStatus::Completed
    );
}

#[tokio::test]
async fn a_malformed_payload_is_refused_with_the_event_named() {
    let recorder = Recorder::default();
    let rt = runtime(&recorder).await;
    let event = EventEnvelope::from_json(
        uuid::Uuid::new_v4(),
        OrderPlaced::NAME,
        serde_json::json!({ "order_id": "o-9" }),
    );
    let err = rt.publish_envelope(event).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Correlate { .. }), "{message}");
    assert!(message.contains("OrderPlaced"), "{message}");
    assert!(message.contains("missing field `amount`"), "{message}");
}

#[tokio::test]
async fn a_json_event_routes_like_a_typed_one() {
    let recorder = Recorder::default();
    let rt = runtime(&recorder).await;
    let event = EventEnvelope::from_json(
        uuid::Uuid::new_v4(),
        OrderPlaced::NAME,
        serde_json::json!({ "order_id": "o-10", "amount": 7 }),
    );
    assert_eq!(rt.publish_envelope(event).await.unwrap().handled, 2);
    assert_eq!(rt.state::<Order>("o-10").await.unwrap().amount, 7);
}
