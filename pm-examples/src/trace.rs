//! The examples' event loop: a simulated command side answers each accepted command with the
//! event the real aggregate would emit; the loop publishes those events back one at a time and
//! prints what each did to the saga.

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Debug;
use std::sync::Mutex;

use pm_runtime::{
    CommandDispatcher, CommandEnvelope, DispatchError, Event, EventEnvelope, ProcessManager,
    Runtime,
};
use tokio::sync::mpsc;
use uuid::Uuid;

/// Publishes the events waiting in `incoming` one at a time until none is left, printing
/// each with the state and status of the instance it reached. `key` names the payload field
/// that holds the process id (`order_id`, `trip_id`, ...).
///
/// Each publish is followed by [`Runtime::settled`], so the commands the event caused (and
/// the command side's answers) are printed under it.
pub async fn publish_all<P: ProcessManager + Debug>(
    runtime: &Runtime,
    incoming: &mut mpsc::UnboundedReceiver<EventEnvelope>,
    key: &str,
) -> Result<(), Box<dyn Error>> {
    loop {
        runtime.settled().await;
        let Ok(event) = incoming.try_recv() else {
            return Ok(());
        };
        let id = event
            .payload
            .to_json()?
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        println!("event    {:<14} -> {}/{id}", event.event_type, P::NAME);
        runtime.publish_envelope(event).await?;
        runtime.settled().await;
        print_state::<P>(runtime, &id).await?;
    }
}

/// Prints `  state    <state> [<status>]` for instance `id` of `P`.
pub async fn print_state<P: ProcessManager + Debug>(
    runtime: &Runtime,
    id: &str,
) -> Result<(), Box<dyn Error>> {
    let state: P = runtime.state(id).await?;
    let status = runtime.status::<P>(id).await?;
    println!("  state    {state:?} [{status}]");
    Ok(())
}

/// What the simulated command side does with one command: accept it, perhaps answering with
/// the event its aggregate would emit, or refuse it.
pub type Answer = Result<Option<EventEnvelope>, DispatchError>;

/// A command side simulated in-process: `answer` decides each command, accepted commands'
/// events go to the channel [`publish_all`] reads, and every command is printed, with a note
/// on compensations saying which failed command they follow.
pub struct Simulated<F> {
    answer: F,
    events: mpsc::UnboundedSender<EventEnvelope>,
    /// Command ids seen, so the trace can say what a compensation undoes.
    seen: Mutex<HashMap<Uuid, String>>,
}

impl<F> Simulated<F>
where
    F: Fn(&CommandEnvelope) -> Answer + Send + Sync + 'static,
{
    /// A command side deciding with `answer`, and the channel its events arrive on.
    ///
    /// Unbounded is safe here: the examples run a handful of sagas and each command yields
    /// at most one event.
    pub fn new(answer: F) -> (Self, mpsc::UnboundedReceiver<EventEnvelope>) {
        let (events, incoming) = mpsc::unbounded_channel();
        let side = Self {
            answer,
            events,
            seen: Mutex::default(),
        };
        (side, incoming)
    }

    /// Queues an event as if an aggregate had emitted it (the first event of each saga).
    pub fn emit<E: Event>(&self, event: E) -> Result<(), Box<dyn Error>> {
        self.events.send(EventEnvelope::new(event))?;
        Ok(())
    }
}

impl<F> CommandDispatcher for Simulated<F>
where
    F: Fn(&CommandEnvelope) -> Answer + Send + Sync + 'static,
{
    async fn dispatch(&self, command: &CommandEnvelope) -> Result<(), DispatchError> {
        let (kind, target) = (&command.command_type, &command.aggregate_type);
        let id = &command.aggregate_id;
        let cause = command
            .causation_id
            .and_then(|c| self.seen.lock().ok()?.get(&c).cloned());
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(command.command_id, command.command_type.to_string());
        }
        let event = match (self.answer)(command) {
            Ok(event) => event,
            Err(error) => {
                let (word, reason) = match &error {
                    DispatchError::Rejected(reason) => ("REJECTED", reason),
                    DispatchError::Unavailable(reason) => ("UNAVAILABLE", reason),
                };
                println!("  command  {kind:<14} -> {target}/{id}: {word} ({reason})");
                return Err(error);
            }
        };
        let note = cause.map_or(String::new(), |failed| {
            format!("   (compensation, after `{failed}` failed)")
        });
        println!("  command  {kind:<14} -> {target}/{id}{note}");
        if let Some(event) = event {
            self.events
                .send(event)
                .map_err(|_| DispatchError::Unavailable("event loop closed".into()))?;
        }
        Ok(())
    }
}
