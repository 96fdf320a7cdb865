//! Durable timeouts: `ctx.schedule`, `ctx.cancel`, delivery after a restart, cancellation on
//! completion.

#![allow(clippy::unwrap_used)] // test helpers may panic: a failure is the point

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Recorder;
use pm_runtime::{
    Clock, Command, Context, Event, InMemoryStore, InstanceStatus, ManualClock, Runtime, Sleep,
    Store, process_manager,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Ordered {
    id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Paid {
    id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct PaymentDeadline {
    id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Reminder {
    id: String,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Command)]
#[command(aggregate = "order", id = id)]
struct CancelOrder {
    id: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Payment {
    deadlines: u32,
    reminders: u32,
}

#[process_manager(name = "payment", correlate = id, commands(CancelOrder))]
impl Payment {
    #[start]
    fn ordered(&mut self, e: &Ordered, ctx: &mut Context<Self>) {
        ctx.schedule(
            Duration::from_secs(60),
            PaymentDeadline { id: e.id.clone() },
        );
        ctx.schedule(Duration::from_secs(10), Reminder { id: e.id.clone() });
    }

    #[handle]
    fn paid(&mut self, _e: &Paid, ctx: &mut Context<Self>) {
        ctx.cancel::<PaymentDeadline>();
    }

    #[handle]
    fn remind(&mut self, _e: &Reminder) {
        self.reminders += 1;
    }

    #[stop]
    fn deadline(&mut self, e: &PaymentDeadline) -> CancelOrder {
        self.deadlines += 1;
        CancelOrder { id: e.id.clone() }
    }
}

async fn start(store: Arc<InMemoryStore>, clock: ManualClock, recorder: &Recorder) -> Runtime {
    Runtime::builder()
        .store(store)
        .clock(clock)
        .dispatcher(recorder.clone())
        .register::<Payment>()
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_timeout_fires_once_when_due_and_not_before() {
    let (store, clock, recorder) = (
        Arc::new(InMemoryStore::new()),
        ManualClock::new(0),
        Recorder::default(),
    );
    let rt = start(store, clock.clone(), &recorder).await;
    rt.publish(Ordered { id: "p-1".into() }).await.unwrap();

    clock.advance(Duration::from_secs(9));
    rt.settled().await;
    assert_eq!(
        rt.state::<Payment>("p-1").await.unwrap().reminders,
        0,
        "not due yet"
    );
    clock.advance(Duration::from_secs(1));
    rt.settled().await;
    assert_eq!(rt.state::<Payment>("p-1").await.unwrap().reminders, 1);
    clock.advance(Duration::from_secs(100));
    rt.settled().await;
    let state: Payment = rt.state("p-1").await.unwrap();
    assert_eq!(
        (state.reminders, state.deadlines),
        (1, 1),
        "each timeout fired exactly once"
    );
    assert_eq!(recorder.log_for("p-1"), ["CancelOrder"]);
    assert_eq!(
        rt.status::<Payment>("p-1").await.unwrap(),
        InstanceStatus::Completed
    );
    assert_eq!(rt.stats().timers_fired, 2);
}

#[tokio::test]
async fn a_cancelled_timeout_never_fires() {
    let (store, clock, recorder) = (
        Arc::new(InMemoryStore::new()),
        ManualClock::new(0),
        Recorder::default(),
    );
    let rt = start(store, clock.clone(), &recorder).await;
    rt.publish(Ordered { id: "p-2".into() }).await.unwrap();
    rt.publish(Paid { id: "p-2".into() }).await.unwrap();
    clock.advance(Duration::from_secs(3600));
    rt.settled().await;
    let state: Payment = rt.state("p-2").await.unwrap();
    assert_eq!(
        (state.reminders, state.deadlines),
        (1, 0),
        "only the reminder fired"
    );
    assert!(recorder.log_for("p-2").is_empty());
}

#[tokio::test]
async fn a_timeout_survives_a_restart_and_fires_exactly_once() {
    let (store, clock, recorder) = (
        Arc::new(InMemoryStore::new()),
        ManualClock::new(0),
        Recorder::default(),
    );
    let first = start(Arc::clone(&store), clock.clone(), &recorder).await;
    first.publish(Ordered { id: "p-3".into() }).await.unwrap();
    first.settled().await;
    first.shutdown().await.unwrap();

    // A new runtime over the same store: it re-arms the stored timers.
    clock.advance(Duration::from_secs(61));
    let second = start(Arc::clone(&store), clock.clone(), &recorder).await;
    second.settled().await;
    let state: Payment = second.state("p-3").await.unwrap();
    assert_eq!((state.reminders, state.deadlines), (1, 1));
    assert_eq!(recorder.log_for("p-3"), ["CancelOrder"]);

    // And a third start finds nothing left to fire.
    second.shutdown().await.unwrap();
    let third = start(store, clock.clone(), &recorder).await;
    clock.advance(Duration::from_secs(1000));
    third.settled().await;
    assert_eq!(third.state::<Payment>("p-3").await.unwrap().deadlines, 1);
    assert_eq!(recorder.log_for("p-3"), ["CancelOrder"]);
}

#[tokio::test]
async fn completing_an_instance_cancels_its_timeouts() {
    let (store, clock, recorder) = (
        Arc::new(InMemoryStore::new()),
        ManualClock::new(0),
        Recorder::default(),
    );
    let rt = start(Arc::clone(&store), clock.clone(), &recorder).await;
    rt.publish(Ordered { id: "p-4".into() }).await.unwrap();
    // The deadline is the stop event: deliver it early by hand.
    rt.publish(PaymentDeadline { id: "p-4".into() })
        .await
        .unwrap();
    rt.settled().await;
    assert_eq!(
        rt.status::<Payment>("p-4").await.unwrap(),
        InstanceStatus::Completed
    );
    use pm_runtime::Store;
    assert!(
        store.due_timers(u64::MAX, 10).await.unwrap().is_empty(),
        "no timer left behind"
    );
    clock.advance(Duration::from_secs(3600));
    rt.settled().await;
    let state: Payment = rt.state("p-4").await.unwrap();
    assert_eq!((state.reminders, state.deadlines), (0, 1));
}

/// A clock whose commit stamps lag its precise time, as `SystemClock`'s coarse stamp does.
struct LaggingStamps(ManualClock);

impl Clock for LaggingStamps {
    fn now_ms(&self) -> u64 {
        self.0.now_ms()
    }
    fn sleep_until(&self, at_ms: u64) -> Sleep {
        self.0.sleep_until(at_ms)
    }
    fn stamp_ms(&self) -> u64 {
        self.0.now_ms() - 4
    }
}

#[tokio::test]
async fn a_timeout_is_due_from_the_precise_clock_not_the_commits_stamp() {
    let store = Arc::new(InMemoryStore::new());
    let rt = Runtime::builder()
        .store(Arc::clone(&store))
        .clock(LaggingStamps(ManualClock::new(1_000)))
        .dispatcher(Recorder::default())
        .register::<Payment>()
        .start()
        .await
        .unwrap();
    rt.publish(Ordered { id: "p-5".into() }).await.unwrap();
    let stored = store.load("payment", &"p-5".into()).await.unwrap().unwrap();
    assert_eq!(stored.updated_at_ms, 996, "the commit carries the stamp");
    let mut due: Vec<u64> = stored.timers.iter().map(|t| t.due_at_ms).collect();
    due.sort_unstable();
    assert_eq!(due, [11_000, 61_000], "due from now_ms, so never early");
}
