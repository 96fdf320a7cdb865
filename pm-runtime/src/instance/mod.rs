//! One process-manager instance: a tokio task that owns the state of one saga.
//!
//! The task handles its mailbox one request at a time, commits every change through the
//! store before acting on it, and sends its outbox one command at a time. `events` holds the
//! event path, `outbox` the command path, `task` the loop that ties them together.

mod events;
pub(crate) mod mailbox;
mod outbox;
pub(crate) mod task;

use std::collections::{HashSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use uuid::Uuid;

use crate::envelope::CommandEnvelope;
use crate::error::{Error, HandlerError, StoreError};
use crate::host::Host;
use crate::ids::{CommandIds, ProcessId};
use crate::process_manager::{CommandSet, ProcessManager};
use crate::stats::Counters;
use crate::status::InstanceStatus;
use crate::store::Commit;

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
    /// Outbox commands currently counted as pending work for `settled()`.
    tracked: usize,
    /// The in-memory state may differ from the store (a failed restore): retire the task so
    /// the next request reloads it.
    broken: bool,
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
            handled: HashSet::new(),
            outbox: VecDeque::new(),
            completed: Vec::new(),
            tracked: 0,
            broken: false,
            host,
            id,
        };
        if let Some(stored) = stored {
            instance.state = decode_state::<P>(&instance.id, &stored.state)
                .map_err(|source| store_error::<P>(&instance.id, source))?;
            instance.status = stored.status;
            instance.revision = stored.revision;
            instance.handled = stored.handled.into_iter().collect();
            instance.outbox = stored.outbox.into();
            instance.completed = stored.completed;
            instance.track();
        }
        Ok(instance)
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

    /// Creates the instance in the store if it does not exist (evoq's `start_link`).
    pub(crate) async fn start(&mut self) -> Result<(), Error> {
        if self.status.is_finished() {
            return Err(self.finished_error());
        }
        if self.exists() {
            return Ok(());
        }
        let commit = self.commit(InstanceStatus::Running, true, None, Vec::new(), Vec::new())?;
        self.apply(commit).await?;
        Counters::bump(&self.host.shared.counters.started);
        Ok(())
    }

    /// A copy of the state, through serde so `P` need not be `Clone`.
    pub(crate) fn state_copy(&self) -> Result<P, Error> {
        let bytes = encode_state::<P>(&self.id, &self.state)
            .map_err(|source| store_error::<P>(&self.id, source))?;
        decode_state::<P>(&self.id, &bytes).map_err(|source| store_error::<P>(&self.id, source))
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

    /// Builds a commit of the instance's current state (when `with_state`) and the changes.
    fn commit(
        &self,
        status: InstanceStatus,
        with_state: bool,
        handled: Option<Uuid>,
        enqueue: Vec<CommandEnvelope>,
        settle: Vec<(Uuid, crate::store::Settlement)>,
    ) -> Result<Commit, Error> {
        let mut commit = Commit::new(
            P::NAME,
            self.id.clone(),
            self.revision + 1,
            status,
            now_ms(),
        );
        if with_state {
            commit.state = Some(
                encode_state::<P>(&self.id, &self.state)
                    .map_err(|source| store_error::<P>(&self.id, source))?,
            );
        }
        commit.handled = handled;
        commit.enqueue = enqueue;
        commit.settle = settle;
        Ok(commit)
    }

    /// Writes a commit and, once it is durable, mirrors it in memory.
    async fn apply(&mut self, commit: Commit) -> Result<(), Error> {
        let mirror = (
            commit.status,
            commit.handled,
            commit.enqueue.clone(),
            commit.settle.clone(),
        );
        self.host
            .shared
            .store
            .commit(commit)
            .await
            .map_err(|source| store_error::<P>(&self.id, source))?;
        let (status, handled, enqueue, settle) = mirror;
        self.revision += 1;
        self.status = status;
        self.handled.extend(handled);
        self.outbox.extend(enqueue);
        for (command_id, settlement) in settle {
            if let Some(at) = self.outbox.iter().position(|c| c.command_id == command_id) {
                if let Some(command) = self.outbox.remove(at) {
                    if settlement == crate::store::Settlement::Completed {
                        self.completed.push(command);
                    }
                }
            }
        }
        self.track();
        Ok(())
    }

    /// Puts the state back to what the store holds after a handler failed midway.
    async fn restore(&mut self) {
        if !self.exists() {
            self.state = P::init(&self.id);
            return;
        }
        match self.host.shared.store.load(P::NAME, &self.id).await {
            Ok(Some(stored)) => match decode_state::<P>(&self.id, &stored.state) {
                Ok(state) => self.state = state,
                Err(_) => self.broken = true,
            },
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

    /// Gives up the pending-work count when the task exits.
    pub(crate) fn release(&mut self) {
        self.host.shared.activity.done(self.tracked);
        self.tracked = 0;
    }

    /// Turns a handler's commands into envelopes with deterministic ids.
    fn envelopes(
        &self,
        commands: Vec<P::Command>,
        cause: Uuid,
        causation_id: Uuid,
        correlation_id: &str,
    ) -> Vec<CommandEnvelope> {
        commands
            .into_iter()
            .enumerate()
            .map(|(index, command)| {
                let parts = command.into_parts();
                let ids = CommandIds::derive(P::NAME, &self.id, cause, index as u32);
                CommandEnvelope {
                    command_id: ids.command_id,
                    command_type: parts.command_type.into(),
                    aggregate_type: parts.aggregate_type.into(),
                    aggregate_id: parts.aggregate_id,
                    payload: parts.payload,
                    metadata: crate::envelope::Metadata::new(),
                    causation_id: Some(causation_id),
                    correlation_id: correlation_id.to_owned(),
                    idempotency_key: ids.idempotency_key,
                }
            })
            .collect()
    }
}

/// Wall-clock milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
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

fn encode_state<P: ProcessManager>(id: &ProcessId, state: &P) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(state).map_err(|source| StoreError::Encode {
        pm: P::NAME,
        process_id: id.clone(),
        source,
    })
}

fn decode_state<P: ProcessManager>(id: &ProcessId, bytes: &[u8]) -> Result<P, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Decode {
        pm: P::NAME,
        process_id: id.clone(),
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
