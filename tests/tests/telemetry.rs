//! Telemetry: evoq's points (start, stop, command, compensate) as tracing events, and spans
//! that carry the PM name, process id and event id.

#![allow(clippy::unwrap_used)] // test helpers may panic: a failure is the point

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Every field of every event and span, as `name=value` strings.
#[derive(Clone, Default)]
struct Capture {
    events: Arc<Mutex<Vec<String>>>,
    spans: Arc<Mutex<Vec<String>>>,
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push_str(&format!("{}={} ", field.name(), value));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.events.lock().unwrap().push(fields.0);
    }
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        let mut fields = Fields(format!("{} ", attrs.metadata().name()));
        attrs.record(&mut fields);
        self.spans.lock().unwrap().push(fields.0);
    }
}

#[test]
fn start_stop_command_and_compensate_are_reported_with_pm_and_process_id() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let recorder = Recorder::default();
        recorder.reject("ReserveStock", "o-2");
        let runtime = runtime(&recorder).await;
        for id in ["o-1", "o-2"] {
            runtime.publish(placed(id, 3)).await.unwrap();
            runtime.settled().await;
            runtime
                .publish(PaymentCharged {
                    order_id: id.into(),
                })
                .await
                .unwrap();
            runtime.settled().await;
        }
        runtime
            .publish(OrderShipped {
                order_id: "o-1".into(),
            })
            .await
            .unwrap();
        runtime.settled().await;
    });

    let events = capture.events.lock().unwrap().clone();
    let find = |needle: &[&str]| {
        events
            .iter()
            .filter(|e| needle.iter().all(|n| e.contains(n)))
            .count()
    };
    assert_eq!(
        find(&["telemetry=start", "pm=order", "process_id=o-1"]),
        1,
        "{events:#?}"
    );
    assert_eq!(
        find(&[
            "telemetry=stop",
            "pm=order",
            "process_id=o-1",
            "status=completed"
        ]),
        1
    );
    assert_eq!(
        find(&[
            "telemetry=stop",
            "pm=order",
            "process_id=o-2",
            "status=compensated"
        ]),
        1
    );
    assert_eq!(
        find(&[
            "telemetry=compensate",
            "pm=order",
            "process_id=o-2",
            "command_count=1"
        ]),
        1
    );
    assert_eq!(
        find(&[
            "telemetry=command",
            "pm=order",
            "command_type=ChargePayment"
        ]),
        2
    );

    let spans = capture.spans.lock().unwrap().clone();
    assert!(
        spans.iter().any(|s| s.starts_with("pm_instance ")
            && s.contains("pm=order")
            && s.contains("process_id=o-1")),
        "{spans:#?}"
    );
    assert!(
        spans
            .iter()
            .any(|s| s.starts_with("pm_event ") && s.contains("event_id="))
    );
    assert!(
        spans
            .iter()
            .any(|s| s.starts_with("pm_command ") && s.contains("command_id="))
    );
}
