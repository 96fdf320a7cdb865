//! Runtime tests against a hand-written process manager (the macro's output is tested end to
//! end in the `pm-tests` crate).

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::__private::{command_parts, decode_command, decode_event, process_id_of};
use crate::*;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Placed {
    id: String,
}
impl Event for Placed {
    const NAME: &'static str = "Placed";
}
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Boom {
    id: String,
}
impl Event for Boom {
    const NAME: &'static str = "Boom";
}
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Done {
    id: String,
}
impl Event for Done {
    const NAME: &'static str = "Done";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Charge {
    id: String,
}
impl Command for Charge {
    const NAME: &'static str = "Charge";
    const AGGREGATE: &'static str = "payment";
    fn aggregate_id(&self) -> String {
        self.id.clone()
    }
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Ship {
    id: String,
}
impl Command for Ship {
    const NAME: &'static str = "Ship";
    const AGGREGATE: &'static str = "shipping";
    fn aggregate_id(&self) -> String {
        self.id.clone()
    }
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Refund {
    id: String,
}
impl Command for Refund {
    const NAME: &'static str = "Refund";
    const AGGREGATE: &'static str = "payment";
    fn aggregate_id(&self) -> String {
        self.id.clone()
    }
}

enum Cmd {
    Charge(Charge),
    Ship(Ship),
    Refund(Refund),
}
impl CommandSet for Cmd {
    fn into_parts(self) -> CommandParts {
        match self {
            Cmd::Charge(c) => command_parts(c),
            Cmd::Ship(c) => command_parts(c),
            Cmd::Refund(c) => command_parts(c),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Saga {
    seen: Vec<String>,
}

impl ProcessManager for Saga {
    const NAME: &'static str = "saga";
    const EVENTS: &'static [EventRoute] = &[
        EventRoute {
            event_type: "Placed",
            role: Role::Start,
        },
        EventRoute {
            event_type: "Boom",
            role: Role::Continue,
        },
        EventRoute {
            event_type: "Done",
            role: Role::Stop,
        },
    ];
    type Command = Cmd;

    fn init(_: &ProcessId) -> Self {
        Self::default()
    }

    fn correlate(event: &EventEnvelope) -> Result<Correlation, EventError> {
        let (role, id) = match &*event.event_type {
            "Placed" => (
                Role::Start,
                process_id_of(&decode_event::<Placed>(event, true)?.id),
            ),
            "Boom" => (
                Role::Continue,
                process_id_of(&decode_event::<Boom>(event, true)?.id),
            ),
            "Done" => (
                Role::Stop,
                process_id_of(&decode_event::<Done>(event, true)?.id),
            ),
            _ => return Ok(Correlation::none()),
        };
        Ok(Correlation::new(role, Targets::One(id)))
    }

    fn handle(
        &mut self,
        event: &EventEnvelope,
        _ctx: &mut Context<Self>,
    ) -> Result<Vec<Cmd>, HandlerError> {
        self.seen.push(event.event_type.to_string());
        match &*event.event_type {
            "Placed" => {
                let e = decode_event::<Placed>(event, false)?;
                Ok(vec![
                    Cmd::Charge(Charge { id: e.id.clone() }),
                    Cmd::Ship(Ship { id: e.id.clone() }),
                ])
            }
            "Boom" => panic!("boom"),
            _ => Ok(Vec::new()),
        }
    }

    fn compensate(
        &mut self,
        command: &CommandEnvelope,
        _ctx: &mut Context<Self>,
    ) -> Result<Compensation<Cmd>, HandlerError> {
        if command.is::<Charge>() {
            let c = decode_command::<Charge>(command)?;
            return Ok(Compensation::Commands(vec![Cmd::Refund(Refund {
                id: c.id.clone(),
            })]));
        }
        Ok(Compensation::Skip)
    }
}

#[derive(Default, Clone)]
struct Recorder {
    sent: Arc<Mutex<Vec<(String, String)>>>,
    reject: Option<&'static str>,
}

impl CommandDispatcher for Recorder {
    async fn dispatch(&self, command: &CommandEnvelope) -> Result<(), DispatchError> {
        self.sent.lock().unwrap().push((
            command.command_type.to_string(),
            command.aggregate_id.clone(),
        ));
        if self.reject == Some(&*command.command_type) {
            return Err(DispatchError::Rejected("no".into()));
        }
        Ok(())
    }
}

async fn runtime(dispatcher: Recorder) -> Runtime {
    runtime_on(InMemoryStore::new(), dispatcher).await
}

async fn runtime_on(store: impl Store, dispatcher: Recorder) -> Runtime {
    Runtime::builder()
        .store(store)
        .dispatcher(dispatcher)
        .register::<Saga>()
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn start_handle_stop_and_tombstone() {
    let recorder = Recorder::default();
    let rt = runtime(recorder.clone()).await;
    let placed = EventEnvelope::new(Placed { id: "a".into() });
    let p = rt.publish_envelope(placed.clone()).await.unwrap();
    assert_eq!(p.handled, 1);
    assert_eq!(
        rt.publish_envelope(placed.clone())
            .await
            .unwrap()
            .duplicates,
        1
    );
    rt.settled().await;
    assert_eq!(
        *recorder.sent.lock().unwrap(),
        [
            ("Charge".to_owned(), "a".to_owned()),
            ("Ship".to_owned(), "a".to_owned())
        ]
    );
    rt.publish(Done { id: "a".into() }).await.unwrap();
    rt.settled().await;
    let state: Saga = rt.state("a").await.unwrap();
    assert_eq!(state.seen, ["Placed", "Done"]);
    // The tombstone blocks a new start event with another id.
    let again = rt.publish(Placed { id: "a".into() }).await.unwrap();
    assert_eq!(again.ignored, 1);
    assert_eq!(rt.live_instances::<Saga>().unwrap(), 0);
}

#[tokio::test]
async fn a_panicking_handler_leaves_state_unchanged() {
    let rt = runtime(Recorder::default()).await;
    rt.publish(Placed { id: "b".into() }).await.unwrap();
    let err = rt.publish(Boom { id: "b".into() }).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Handler {
                source: HandlerError::Panicked(_),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(rt.state::<Saga>("b").await.unwrap().seen, ["Placed"]);
}

#[tokio::test]
async fn a_rejection_compensates_completed_commands() {
    let recorder = Recorder {
        reject: Some("Ship"),
        ..Recorder::default()
    };
    let rt = runtime(recorder.clone()).await;
    rt.publish(Placed { id: "b".into() }).await.unwrap();
    rt.settled().await;
    assert_eq!(
        *recorder.sent.lock().unwrap(),
        [
            ("Charge".to_owned(), "b".to_owned()),
            ("Ship".to_owned(), "b".to_owned()),
            ("Refund".to_owned(), "b".to_owned())
        ]
    );
    assert_eq!(rt.stats().compensated, 1);
}

#[tokio::test]
async fn a_publish_polled_after_shutdown_fails_and_handles_nothing() {
    let recorder = Recorder::default();
    let rt = runtime(recorder.clone()).await;
    // Made before the shutdown, first polled after it.
    let early = rt.publish(Placed { id: "a".into() });
    rt.shutdown().await.unwrap();
    assert!(matches!(early.await, Err(Error::Shutdown)));
    assert!(matches!(
        rt.publish(Placed { id: "b".into() }).await,
        Err(Error::Shutdown)
    ));
    assert_eq!(rt.live_instances::<Saga>().unwrap(), 0);
    assert!(recorder.sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_publish_future_fits_the_allocators_thread_cache() {
    let rt = runtime(Recorder::default()).await;
    let placed = EventEnvelope::new(Placed { id: "o-1".into() });
    let publishing = (rt.inner.router).publish(placed, instance::mailbox::Via::PublishMinted);
    // A publish's future is one allocation per event. glibc's per-thread cache serves up to
    // 1,032 bytes; above that every event takes the allocator's slow path (15% of the
    // routed throughput when it was 1,248 bytes).
    let size = std::mem::size_of_val(&*publishing);
    assert!(size <= 1_032, "the publish future grew to {size} bytes");
    publishing.await.unwrap();
}

#[tokio::test]
async fn only_an_id_that_can_come_again_is_recorded_for_dedup() {
    let store = Arc::new(InMemoryStore::new());
    let rt = runtime_on(Arc::clone(&store), Recorder::default()).await;
    // A typed publish draws the event's id itself: nothing else holds it to redeliver. The
    // first runs on the publisher's task; its commands wake the instance's task, which
    // takes the second through its mailbox.
    rt.publish(Placed { id: "m".into() }).await.unwrap();
    rt.publish(Placed { id: "m".into() }).await.unwrap();
    assert_eq!(
        rt.stats().handled_inline,
        1,
        "the second went through the mailbox"
    );
    // An envelope's id comes from outside, and a redelivery may carry it again.
    let done = EventEnvelope::new(Done { id: "m".into() });
    assert_eq!(rt.publish_envelope(done.clone()).await.unwrap().handled, 1);
    assert_eq!(
        rt.publish_envelope(done.clone()).await.unwrap().duplicates,
        1
    );
    rt.settled().await;
    let stored = store.load("saga", &"m".into()).await.unwrap().unwrap();
    assert_eq!(stored.handled, [done.event_id]);
}
