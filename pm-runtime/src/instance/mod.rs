//! One process-manager instance: a tokio task that owns the state of one saga.
//!
//! The task handles its mailbox one request at a time, commits every change through the
//! store before acting on it, and sends its outbox one command at a time. `events` holds the
//! event path, `outbox` the command path, `parking` dead letters and their resolution,
//! `task` the loop that ties them together, `inline` the publisher that runs an idle
//! instance on its own task instead.

mod events;
pub(crate) mod inline;
pub(crate) mod mailbox;
mod outbox;
mod parking;
pub(crate) mod task;

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use uuid::Uuid;

use crate::context::Context;
use crate::envelope::{CommandEnvelope, EventEnvelope};
use crate::error::{Error, HandlerError, StoreError};
use crate::fast_map::HashSet;
use crate::host::Host;
use crate::ids::{InstanceIds, ProcessId};
use crate::outgoing;
use crate::process_manager::{ProcessManager, Role};
use crate::status::InstanceStatus;
use crate::store::{Change, Commit, DeadLetter, Settlement, Timer};

pub(crate) use events::Origin;

pub(crate) struct Instance<P: ProcessManager> {
    host: Arc<Host<P>>,
    id: ProcessId,
    state: P,
    status: InstanceStatus,
    /// Commits applied; 0 means the instance does not exist in the store yet.
    revision: u64,
    handled: HashSet<Uuid>,
    outbox: VecDeque<CommandEnvelope>,
    completed: Vec<CommandEnvelope>,
    timers: Vec<Timer>,
    // Boxed: a dead letter is large and rare, and this struct lives in every idle task.
    dead_letter: Option<Box<DeadLetter>>,
    stash: VecDeque<EventEnvelope>,
    /// The hashed (PM, process id) part of command ids, made at the first command.
    ids: Option<Box<InstanceIds>>,
    /// Outbox commands currently counted as pending work for `settled()`.
    tracked: usize,
    /// The in-memory state may differ from the store (a failed restore): retire the task so
    /// the next request reloads it.
    broken: bool,
}

/// The parts of a commit the instance mirrors in memory once the store has it.
struct Mirror {
    status: InstanceStatus,
    handled: Option<Uuid>,
    enqueue: Vec<CommandEnvelope>,
    settle: Vec<(Uuid, Settlement)>,
    schedule: Vec<Timer>,
    unschedule: Vec<Uuid>,
    dead_letter: Change<Box<DeadLetter>>,
    stash: Vec<EventEnvelope>,
    unstash: usize,
}

impl<P: ProcessManager> Instance<P> {
    pub(crate) async fn load(host: Arc<Host<P>>, id: ProcessId) -> Result<Self, Error> {
        let stored = host
            .shared
            .store
            .load(P::NAME, &id)
            .await
            .map_err(|source| store_error::<P>(&id, source))?;
        let mut instance = Self {
            state: P::init(&id),
            status: InstanceStatus::Running,
            revision: 0,
            handled: HashSet::default(),
            outbox: VecDeque::new(),
            completed: Vec::new(),
            timers: Vec::new(),
            dead_letter: None,
            stash: VecDeque::new(),
            ids: None,
            tracked: 0,
            broken: false,
            host,
            id,
        };
        if let Some(stored) = stored {
            instance.state = decode_state::<P>(&instance.id, &stored.state, stored.state_version)
                .map_err(|source| store_error::<P>(&instance.id, source))?;
            instance.status = stored.status;
            instance.revision = stored.revision;
            instance.handled = stored.handled.into_iter().collect();
            instance.outbox = stored.outbox.into();
            instance.completed = stored.completed;
            instance.timers = stored.timers;
            instance.dead_letter = stored.dead_letter;
            instance.stash = stored.stash.into();
            instance.track();
        }
        Ok(instance)
    }

    pub(crate) fn id(&self) -> &ProcessId {
        &self.id
    }

    pub(crate) fn status(&self) -> InstanceStatus {
        self.status
    }

    pub(crate) fn exists(&self) -> bool {
        self.revision > 0
    }

    /// Whether the task should exit: nothing left to do here, or its memory is suspect.
    pub(crate) fn should_retire(&self) -> bool {
        self.broken || !self.exists() || self.status.is_finished()
    }

    /// Whether the outbox is full: the task then stops taking events until it drains.
    pub(crate) fn outbox_full(&self) -> bool {
        self.outbox.len() >= self.host.shared.config.max_outbox
    }

    /// Creates the instance in the store if it does not exist (evoq's `start_link`).
    pub(crate) async fn start(&mut self) -> Result<(), Error> {
        if self.status.is_finished() {
            return Err(self.finished_error());
        }
        if self.exists() {
            return Ok(());
        }
        let mut commit = self.next_commit(InstanceStatus::Running);
        commit.state = Some(self.encoded_state()?);
        self.apply(commit).await?;
        self.on_started();
        Ok(())
    }

    /// A copy of the state, through serde so `P` need not be `Clone`.
    pub(crate) fn state_copy(&self) -> Result<P, Error> {
        let bytes = self.encoded_state()?;
        decode_state::<P>(&self.id, &bytes, P::VERSION)
            .map_err(|source| store_error::<P>(&self.id, source))
    }

    pub(crate) fn not_found(&self) -> Error {
        Error::NotFound {
            pm: P::NAME,
            process_id: self.id.clone(),
        }
    }

    pub(crate) fn finished_error(&self) -> Error {
        Error::Finished {
            pm: P::NAME,
            process_id: self.id.clone(),
            status: self.status,
        }
    }

    fn encoded_state(&self) -> Result<Vec<u8>, Error> {
        const KEEP: usize = 64 * 1024;
        thread_local! {
            // Encoding into a fresh `Vec` grows it from 8 bytes by doubling, an allocation
            // per doubling; a buffer kept per thread grows once, and the copy out is exact.
            // One larger than `KEEP` (a rare huge state) is not kept.
            static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUFFER
            .with_borrow_mut(|buffer| {
                buffer.clear();
                let encoded = serde_json::to_writer(&mut *buffer, &self.state)
                    .map(|()| buffer.as_slice().to_vec());
                if buffer.capacity() > KEEP {
                    *buffer = Vec::new();
                }
                encoded
            })
            .map_err(|source| {
                store_error::<P>(
                    &self.id,
                    StoreError::Encode {
                        pm: P::NAME,
                        process_id: self.id.clone(),
                        source,
                    },
                )
            })
    }

    /// An empty commit of the next revision.
    fn next_commit(&self, status: InstanceStatus) -> Commit {
        let mut commit = Commit::new(
            P::NAME,
            self.id.clone(),
            self.revision + 1,
            status,
            self.host.shared.clock.stamp_ms(),
        );
        commit.state_version = P::VERSION;
        commit
    }

    /// Writes a commit and, once it is durable, mirrors it in memory and arms its timers.
    /// A commit that finishes the instance also cancels every timer it still holds.
    async fn apply(&mut self, mut commit: Commit) -> Result<(), Error> {
        let mirror = self.mirror_of(&mut commit);
        let written = self.host.shared.store.commit(commit).await;
        self.mirror_written(mirror, written)
    }

    /// Completes `commit` (a finishing commit cancels every timer) and returns what to
    /// mirror of it once it is written.
    fn mirror_of(&self, commit: &mut Commit) -> Mirror {
        if commit.status.is_finished() {
            let pending = self.timers.iter().map(|t| t.timer_id);
            let unschedule: Vec<Uuid> = pending
                .filter(|id| !commit.unschedule.contains(id))
                .collect();
            commit.unschedule.extend(unschedule);
            commit.schedule.clear();
        }
        Mirror {
            status: commit.status,
            handled: commit.handled,
            enqueue: commit.enqueue.clone(),
            settle: commit.settle.clone(),
            schedule: commit.schedule.clone(),
            unschedule: commit.unschedule.clone(),
            dead_letter: commit.dead_letter.clone(),
            stash: commit.stash.clone(),
            unstash: commit.unstash,
        }
    }

    /// Mirrors a commit the store has written; on a failed write the instance is left as
    /// it was (and, when another writer moved it on, marked for reloading).
    fn mirror_written(
        &mut self,
        mirror: Mirror,
        written: Result<(), StoreError>,
    ) -> Result<(), Error> {
        if let Err(source) = written {
            // Another writer moved the instance on (another node, while this one lost its
            // partition): this copy is stale, so the task retires and the next request
            // reloads the instance (on whichever node owns it then).
            if matches!(
                source,
                StoreError::Conflict { .. } | StoreError::Fenced { .. }
            ) {
                self.broken = true;
                self.track();
            }
            return Err(store_error::<P>(&self.id, source));
        }
        self.mirror(mirror);
        Ok(())
    }

    fn mirror(&mut self, m: Mirror) {
        self.revision += 1;
        self.status = m.status;
        self.handled.extend(m.handled);
        if !m.enqueue.is_empty() {
            self.outbox.extend(m.enqueue);
        }
        for (command_id, settlement) in m.settle {
            if let Some(at) = self.outbox.iter().position(|c| c.command_id == command_id)
                && let Some(command) = self.outbox.remove(at)
                && settlement == Settlement::Completed
            {
                self.completed.push(command);
            }
        }
        if !m.unschedule.is_empty() {
            (self.timers).retain(|t| !m.unschedule.contains(&t.timer_id));
        }
        for timer in &m.schedule {
            let wheel = &self.host.shared.timers;
            wheel.arm(P::NAME, self.id.clone(), timer.timer_id, timer.due_at_ms);
        }
        self.timers.extend(m.schedule);
        match m.dead_letter {
            Change::Keep => {}
            Change::Set(dead_letter) => self.dead_letter = Some(dead_letter),
            Change::Clear => self.dead_letter = None,
        }
        if m.unstash > 0 {
            let unstash = m.unstash.min(self.stash.len());
            self.stash.drain(..unstash);
        }
        if !m.stash.is_empty() {
            self.stash.extend(m.stash);
        }
        self.track();
        if !self.outbox.is_empty() {
            self.host.shared.counters.note_outbox(self.outbox.len());
        }
    }

    /// Puts the state back to what the store holds after a handler failed midway.
    async fn restore(&mut self) {
        if !self.exists() {
            self.state = P::init(&self.id);
            return;
        }
        match self.host.shared.store.load(P::NAME, &self.id).await {
            Ok(Some(stored)) => {
                match decode_state::<P>(&self.id, &stored.state, stored.state_version) {
                    Ok(state) => self.state = state,
                    Err(_) => self.broken = true,
                }
            }
            Ok(None) | Err(_) => self.broken = true,
        }
    }

    /// Keeps `settled()`'s count equal to the commands this instance still has to send.
    fn track(&mut self) {
        let want = if self.status == InstanceStatus::Parked || self.broken {
            0
        } else {
            self.outbox.len()
        };
        let activity = &self.host.shared.activity;
        if want > self.tracked {
            activity.add(want - self.tracked);
        } else {
            activity.done(self.tracked - want);
        }
        self.tracked = want;
    }

    /// Frees what a sleeping instance does not need: the cached id prefix (rebuilt at the
    /// next command) and the spare capacity of its collections, which grew while it was busy.
    pub(crate) fn compact(&mut self) {
        self.ids = None;
        self.handled.shrink_to_fit();
        self.outbox.shrink_to_fit();
        self.completed.shrink_to_fit();
        self.timers.shrink_to_fit();
        self.stash.shrink_to_fit();
    }

    /// Gives up the pending-work count when the task exits.
    pub(crate) fn release(&mut self) {
        self.host.shared.activity.done(self.tracked);
        self.tracked = 0;
    }

    /// Turns a handler's commands into envelopes with deterministic ids.
    fn envelopes(
        &mut self,
        commands: Vec<P::Command>,
        cause: Uuid,
        causation_id: Uuid,
        correlation_id: &str,
    ) -> Vec<CommandEnvelope> {
        if commands.is_empty() {
            return Vec::new();
        }
        // Hashed once per instance: each command then costs one SHA-1 block.
        let ids = self
            .ids
            .get_or_insert_with(|| Box::new(InstanceIds::new(P::NAME, &self.id)));
        outgoing::command_envelopes(ids, commands, cause, causation_id, correlation_id)
    }

    /// Adds what a handler asked of its context (timeouts, cancellations) to a commit.
    fn add_context(&self, commit: &mut Commit, ctx: Context<P>, cause: Uuid, correlation_id: &str) {
        for event_type in &ctx.cancelled {
            let cancelled = self
                .timers
                .iter()
                .filter(|t| t.event.event_type == *event_type);
            commit.unschedule.extend(cancelled.map(|t| t.timer_id));
        }
        if ctx.scheduled.is_empty() {
            return;
        }
        // A precise read: the commit's stamp may lag by a few milliseconds, and a timeout
        // must not come early.
        let now = self.host.shared.clock.now_ms();
        let scheduled = ctx.scheduled;
        let timers = outgoing::timers(P::NAME, &self.id, scheduled, cause, correlation_id, now);
        commit.schedule.extend(timers);
    }

    fn on_started(&self) {
        crate::stats::Counters::bump(&self.host.shared.counters.local().started);
        tracing::info!(target: "pm_runtime::telemetry", telemetry = "start",
                       pm = P::NAME, process_id = %self.id);
    }

    /// The role `P` gives an event type, for events delivered to a known instance.
    fn role_of(event: &EventEnvelope) -> Option<Role> {
        P::EVENTS
            .iter()
            .find(|route| route.event_type == event.event_type)
            .map(|route| route.role)
    }
}

/// Runs user code, turning a panic into a handler error.
fn guarded<T>(f: impl FnOnce() -> Result<T, HandlerError>) -> Result<T, HandlerError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_owned());
        Err(HandlerError::Panicked(message))
    })
}

/// Reads a stored state, upgrading it when an older version of `P` wrote it.
fn decode_state<P: ProcessManager>(
    id: &ProcessId,
    bytes: &[u8],
    version: u32,
) -> Result<P, StoreError> {
    let decode_error = |source| StoreError::Decode {
        pm: P::NAME,
        process_id: id.clone(),
        source,
    };
    if version == P::VERSION {
        return serde_json::from_slice(bytes).map_err(decode_error);
    }
    if version > P::VERSION {
        return Err(StoreError::NewerVersion {
            pm: P::NAME,
            process_id: id.clone(),
            stored: version,
            supported: P::VERSION,
        });
    }
    let value = serde_json::from_slice(bytes).map_err(decode_error)?;
    P::upgrade(version, value).map_err(|source| StoreError::Upgrade {
        pm: P::NAME,
        process_id: id.clone(),
        from: version,
        source,
    })
}

fn store_error<P: ProcessManager>(id: &ProcessId, source: StoreError) -> Error {
    Error::Store {
        pm: P::NAME,
        process_id: id.clone(),
        source,
    }
}
