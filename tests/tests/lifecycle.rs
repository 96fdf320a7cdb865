//! Instance lifecycle: state after each step, handler failures, redelivery, compensation.

#![allow(clippy::unwrap_used)] // test helpers may panic: a failure is the point

mod common;

use common::*;
use pm_runtime::{Error, EventEnvelope, HandlerError, InstanceStatus};

#[tokio::test]
async fn state_follows_each_step_and_stop_runs_its_handler_before_completing() {
    let recorder = Recorder::default();
    let rt = runtime(&recorder).await;
    let h = rt.instance::<Order>("o-1").await.unwrap();
    assert_eq!(
        h.get_state().await.unwrap(),
        Order::default(),
        "a started instance holds its initial state"
    );

    h.handle_event(EventEnvelope::new(placed("o-1", 30)))
        .await
        .unwrap();
    assert_eq!(h.get_state().await.unwrap().amount, 30);
    h.handle_event(EventEnvelope::new(PaymentCharged {
        order_id: "o-1".into(),
    }))
    .await
    .unwrap();
    assert!(h.get_state().await.unwrap().charged);
    h.handle_event(EventEnvelope::new(StockReserved {
        order_id: "o-1".into(),
    }))
    .await
    .unwrap();
    assert!(h.get_state().await.unwrap().reserved);
    h.handle_event(EventEnvelope::new(OrderShipped {
        order_id: "o-1".into(),
    }))
    .await
    .unwrap();
    rt.settled().await;

    let last = h.get_state().await.unwrap();
    assert!(last.shipped, "the stop handler ran");
    assert_eq!(
        rt.status::<Order>("o-1").await.unwrap(),
        InstanceStatus::Completed
    );
    let err = h
        .handle_event(EventEnvelope::new(OrderNoted {
            order_id: "o-1".into(),
            note: "late".into(),
        }))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Finished {
                status: InstanceStatus::Completed,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_stop_handler_commands_go_out_before_completion() {
    use pm_runtime::{Command, Event, process_manager};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Serialize, Deserialize, Event)]
    struct Begin {
        id: String,
    }
    #[derive(Debug, Clone, Serialize, Deserialize, Event)]
    struct Finish {
        id: String,
    }
    #[derive(Debug, Clone, Serialize, Deserialize, Command)]
    #[command(aggregate = "ledger", id = id)]
    struct Close {
        id: String,
    }
    #[derive(Debug, Default, Serialize, Deserialize)]
    struct Closer;
    #[process_manager(name = "closer", correlate = id, commands(Close))]
    impl Closer {
        #[start]
        fn begin(&mut self, _e: &Begin) {}
        #[stop]
        fn finish(&mut self, e: &Finish) -> Close {
            Close { id: e.id.clone() }
        }
    }

    let recorder = Recorder::default();
    let rt = pm_runtime::Runtime::builder()
        .dispatcher(recorder.clone())
        .register::<Closer>()
        .start()
        .await
        .unwrap();
    rt.publish(Begin { id: "c".into() }).await.unwrap();
    rt.publish(Finish { id: "c".into() }).await.unwrap();
    rt.settled().await;
    assert_eq!(recorder.log_for("c"), ["Close"]);
    assert_eq!(
        rt.status::<Closer>("c").await.unwrap(),
        InstanceStatus::Completed
    );
}

#[tokio::test]
async fn a_failing_handler_leaves_state_unchanged_and_the_instance_alive() {
    let recorder = Recorder::default();
    let rt = runtime(&recorder).await;
    rt.publish(placed("o-2", 5)).await.unwrap();
    let before: Order = rt.state("o-2").await.unwrap();

    let err = rt
        .publish(Explode {
            order_id: "o-2".into(),
            panic: false,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Handler { source: HandlerError::Returned(e), .. } if e.to_string() == "refused by the handler"),
        "{err}"
    );
    assert_eq!(
        rt.state::<Order>("o-2").await.unwrap(),
        before,
        "the handler's mutation was undone"
    );
    // It keeps failing, so the instance is parked with the event, not dropped.
    assert_eq!(
        rt.status::<Order>("o-2").await.unwrap(),
        InstanceStatus::Parked
    );
    rt.skip_parked::<Order>("o-2").await.unwrap();

    publish_panicking(&rt, "o-2").await;
    assert_eq!(rt.state::<Order>("o-2").await.unwrap(), before);
    rt.skip_parked::<Order>("o-2").await.unwrap();

    // Still alive: the next event is handled normally.
    rt.publish(PaymentCharged {
        order_id: "o-2".into(),
    })
    .await
    .unwrap();
    assert!(rt.state::<Order>("o-2").await.unwrap().charged);
    assert_eq!(
        rt.stats().handler_failures,
        6,
        "two events, three attempts each"
    );
}

#[tokio::test]
async fn a_redelivered_event_is_skipped() {
    let recorder = Recorder::default();
    let rt = runtime(&recorder).await;
    rt.publish(placed("o-4", 5)).await.unwrap();
    let note = EventEnvelope::new(OrderNoted {
        order_id: "o-4".into(),
        note: "once".into(),
    });
    assert_eq!(rt.publish_envelope(note.clone()).await.unwrap().handled, 2);
    let again = rt.publish_envelope(note).await.unwrap();
    assert_eq!((again.handled, again.duplicates), (0, 2));
    assert_eq!(rt.state::<Order>("o-4").await.unwrap().notes, ["once"]);
    assert_eq!(
        rt.state::<Audit>("o-4").await.unwrap().entries,
        ["placed 5", "noted once"]
    );
}

#[tokio::test]
async fn a_rejected_command_aborts_the_saga_and_refunds_the_charge() {
    let recorder = Recorder::default();
    recorder.reject("ReserveStock", "o-5");
    let rt = runtime(&recorder).await;
    rt.publish(placed("o-5", 70)).await.unwrap();
    rt.settled().await;
    rt.publish(PaymentCharged {
        order_id: "o-5".into(),
    })
    .await
    .unwrap();
    rt.settled().await;

    assert_eq!(
        recorder.log_for("o-5"),
        ["ChargePayment", "ReserveStock", "RefundPayment"]
    );
    let refund = recorder.sent().pop().unwrap();
    assert_eq!(
        *refund.decode::<RefundPayment>().unwrap(),
        RefundPayment {
            order_id: "o-5".into(),
            amount: 70
        }
    );
    assert_eq!(
        rt.status::<Order>("o-5").await.unwrap(),
        InstanceStatus::Compensated
    );
    assert!(
        !rt.state::<Order>("o-5").await.unwrap().charged,
        "the compensation handler ran"
    );
    // A compensated saga is finished: later events are dropped.
    let late = rt
        .publish(StockReserved {
            order_id: "o-5".into(),
        })
        .await
        .unwrap();
    assert_eq!(late.ignored, 1);
}

#[tokio::test]
async fn a_rejection_with_nothing_completed_compensates_with_no_commands() {
    let recorder = Recorder::default();
    recorder.reject("ChargePayment", "o-6");
    let rt = runtime(&recorder).await;
    rt.publish(placed("o-6", 70)).await.unwrap();
    rt.settled().await;
    assert_eq!(recorder.log_for("o-6"), ["ChargePayment"]);
    assert_eq!(
        rt.status::<Order>("o-6").await.unwrap(),
        InstanceStatus::Compensated
    );
}

/// Counts what it was told; its JSON form cannot hold a count above `LIMIT`, so a handler can
/// leave it in a state that does not encode.
#[derive(Debug, Default, serde::Deserialize)]
struct Tally {
    count: u32,
}

impl Tally {
    const LIMIT: u32 = 10;
}

impl serde::Serialize for Tally {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.count > Self::LIMIT {
            return Err(serde::ser::Error::custom("count above the limit"));
        }
        use serde::ser::SerializeStruct;
        let mut state = serializer.serialize_struct("Tally", 1)?;
        state.serialize_field("count", &self.count)?;
        state.end()
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, pm_runtime::Event)]
struct Told {
    id: String,
    by: u32,
}

#[pm_runtime::process_manager(name = "tally", correlate = id)]
impl Tally {
    #[start]
    fn told(&mut self, e: &Told) {
        self.count += e.by;
    }
}

#[tokio::test]
async fn a_state_that_does_not_encode_is_undone_and_the_instance_goes_on() {
    let rt = pm_runtime::Runtime::builder()
        .dispatcher(Recorder::default())
        .register::<Tally>()
        .start()
        .await
        .unwrap();
    let told = |by| Told { id: "t".into(), by };
    rt.publish(told(4)).await.unwrap();

    let failed = rt.publish(told(100)).await.unwrap_err();
    assert!(
        matches!(
            &failed,
            Error::Store {
                source: pm_runtime::StoreError::Encode { .. },
                ..
            }
        ),
        "{failed:?}"
    );
    // The handler's change was undone, so the next event is handled on the committed state.
    rt.publish(told(5)).await.unwrap();
    assert_eq!(rt.state::<Tally>("t").await.unwrap().count, 9);
}
