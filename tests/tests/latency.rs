//! Latency histograms: every delivered event and every dispatch attempt is recorded.
//!
//! A file of its own: the telemetry tests install a thread-scoped tracing subscriber, and a
//! test running beside them in the same binary can leave tracing's callsite cache disabled.

#![allow(clippy::unwrap_used)] // test helpers may panic: a failure is the point

mod common;

use common::*;

#[tokio::test]
async fn latency_histograms_count_every_event_and_dispatch() {
    let recorder = Recorder::default();
    let rt = runtime(&recorder).await;
    assert_eq!(rt.latencies().event.quantile(0.5), None, "nothing yet");
    rt.publish(placed("o-1", 10)).await.unwrap();
    rt.publish(placed("o-2", 20)).await.unwrap();
    rt.settled().await;

    let latencies = rt.latencies();
    // Two `OrderPlaced`, each delivered to both PM types that handle it (Order, Audit).
    assert_eq!(latencies.event.count(), 4);
    // Order sent one ChargePayment per order; Audit sends nothing.
    assert_eq!(latencies.dispatch.count(), recorder.sent().len() as u64);
    assert_eq!(latencies.dispatch.count(), 2);
    let p50 = latencies.event.quantile(0.5).unwrap();
    let p100 = latencies.event.quantile(1.0).unwrap();
    assert!(p50 <= p100);
    let bucketed: u64 = latencies.event.buckets().map(|(_, n)| n).sum();
    assert_eq!(bucketed, 4);
}
