//! Many instances at once: each sees its own events, in order.

#![allow(clippy::unwrap_used)] // test helpers may panic: a failure is the point

mod common;

use std::sync::Arc;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_instances_each_see_their_own_events_in_order() {
    const INSTANCES: usize = 1_000;
    const NOTES: usize = 10;
    let recorder = Recorder::default();
    let rt = runtime(&recorder).await;

    // One publisher task per instance, all running at once; each awaits its publishes, so
    // its own events are ordered while different instances interleave freely.
    let mut tasks = Vec::new();
    for i in 0..INSTANCES {
        let rt = rt.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("o-{i}");
            rt.publish(placed(&id, i as u64)).await.unwrap();
            for n in 0..NOTES {
                rt.publish(OrderNoted {
                    order_id: id.clone(),
                    note: format!("{i}:{n}"),
                })
                .await
                .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    rt.settled().await;

    let rt = Arc::new(rt);
    for i in 0..INSTANCES {
        let id = format!("o-{i}");
        let order: Order = rt.state(id.as_str()).await.unwrap();
        let expected: Vec<String> = (0..NOTES).map(|n| format!("{i}:{n}")).collect();
        assert_eq!(order.notes, expected, "instance {id}");
        assert_eq!(order.amount, i as u64);
    }
    assert_eq!(rt.stats().handled as usize, INSTANCES * (NOTES + 1) * 2);
    assert_eq!(
        recorder.sent().len(),
        INSTANCES,
        "one ChargePayment per order"
    );
}
