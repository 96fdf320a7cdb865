//! The hand-written tokio actor-per-instance router a user would otherwise write.
//!
//! A `HashMap` from process id to the sender of a bounded mpsc mailbox (capacity 64, as the
//! runtime's default), one task per instance owning its `Counter`, spawned on first use, and
//! a oneshot reply that the caller awaits, as `Runtime::publish` does. It does the same state
//! work per event (the same handler functions) and the same routing (a lookup by process id
//! behind a mutex, a clone of the sender), but it persists nothing, keeps no event ids for
//! deduplication, has no lifecycle rules, no backpressure on commands, no panic isolation and
//! no passivation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::drive::drive;
use crate::saga::{Counter, Opened, Ticked, instance_ids};

/// Mailbox capacity, the runtime's default.
pub const MAILBOX: usize = 64;

enum Message {
    Opened(Opened, oneshot::Sender<()>),
    Ticked(Ticked, oneshot::Sender<()>),
}

/// The router: process id → mailbox of the instance's task.
#[derive(Debug, Default)]
pub struct ActorRouter {
    mailboxes: Mutex<HashMap<String, mpsc::Sender<Message>>>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

impl ActorRouter {
    /// An empty router.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The mailbox of `id`, spawning its task on first use.
    fn mailbox(&self, id: &str) -> mpsc::Sender<Message> {
        let mut mailboxes = self
            .mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(mailbox) = mailboxes.get(id) {
            return mailbox.clone();
        }
        let (tx, rx) = mpsc::channel(MAILBOX);
        mailboxes.insert(id.to_owned(), tx.clone());
        tokio::spawn(instance(rx));
        tx
    }

    /// Opens instance `e.id` and waits until it has handled the event.
    pub async fn open(&self, e: Opened) {
        let (reply, done) = oneshot::channel();
        let mailbox = self.mailbox(&e.id);
        mailbox
            .send(Message::Opened(e, reply))
            .await
            .expect("the instance task runs");
        done.await.expect("the instance replies");
    }

    /// Sends `e` to its instance and waits until it has handled it.
    pub async fn tick(&self, e: Ticked) {
        let (reply, done) = oneshot::channel();
        let mailbox = self.mailbox(&e.id);
        mailbox
            .send(Message::Ticked(e, reply))
            .await
            .expect("the instance task runs");
        done.await.expect("the instance replies");
    }

    /// Number of instance tasks.
    pub fn len(&self) -> usize {
        self.mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no instance task exists.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every mailbox, so the tasks end.
    pub fn clear(&self) {
        self.mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// One instance: owns its state, handles its mailbox in order.
async fn instance(mut mailbox: mpsc::Receiver<Message>) {
    let mut state = Counter::default();
    while let Some(message) = mailbox.recv().await {
        match message {
            Message::Opened(e, reply) => {
                state.opened(&e);
                let _ = reply.send(());
            }
            Message::Ticked(e, reply) => {
                state.ticked(&e);
                let _ = reply.send(());
            }
        }
    }
}

/// Tasks alive on the current tokio runtime.
pub fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Waits until at most `tasks` tasks are alive. A router's instance tasks end only once they
/// see their mailbox closed, after `ActorRouter::clear`: a measure that started while
/// thousands of them were still ending would pay for their teardown. The runtime's
/// `shutdown` does its teardown before it returns.
pub async fn tasks_ended(tasks: usize) {
    while alive_tasks() > tasks {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The baseline router with `instances` live instances, for the routed measure.
#[derive(Debug)]
pub struct Baseline {
    /// The router.
    pub router: Arc<ActorRouter>,
    ids: Arc<Vec<String>>,
    /// Tasks alive before the router's, which `shutdown` waits to get back to.
    tasks_before: usize,
}

impl Baseline {
    /// Opens `instances` instances from `publishers` tasks; returns the time that took.
    pub async fn start(instances: usize, publishers: usize) -> (Self, Duration) {
        let baseline = Self {
            router: ActorRouter::new(),
            ids: Arc::new(instance_ids(instances)),
            tasks_before: alive_tasks(),
        };
        let (router, ids) = (Arc::clone(&baseline.router), Arc::clone(&baseline.ids));
        let opened = drive(instances, instances, publishers, move |i, _| {
            let (router, id) = (Arc::clone(&router), ids[i].clone());
            async move { router.open(Opened { id }).await }
        })
        .await;
        (baseline, opened)
    }

    /// Sends `events` `Ticked` events as [`crate::routed::Routed::publish`] does.
    pub async fn publish(&self, events: usize, publishers: usize) -> Duration {
        let (router, ids) = (Arc::clone(&self.router), Arc::clone(&self.ids));
        drive(ids.len(), events, publishers, move |i, k| {
            let (router, id) = (Arc::clone(&router), ids[i].clone());
            async move { router.tick(Ticked { id, amount: k }).await }
        })
        .await
    }

    /// Ends the instance tasks and waits until they have.
    pub async fn shutdown(self) {
        self.router.clear();
        tasks_ended(self.tasks_before).await;
    }
}
