//! The in-memory store: for tests and non-durable use.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::{Commit, Settlement, Store, StoreFuture, StoredInstance};
use crate::error::StoreError;
use crate::ids::ProcessId;
use crate::status::InstanceStatus;

/// A [`Store`] in a `HashMap`: fast, and gone when the process exits.
///
/// It is what a runtime uses when no store is set. Commands are kept typed, so nothing is
/// serialised but the instance state. Use [`SqliteStore`](crate) or another durable store for
/// anything that must survive a restart.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    instances: Mutex<HashMap<(String, ProcessId), StoredInstance>>,
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of instances stored, tombstones included.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds no instance.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, ProcessId), StoredInstance>> {
        // A panic while holding the lock cannot leave a half-applied commit: `apply` mutates
        // only after every check passed.
        self.instances.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn apply(&self, commit: Commit) -> Result<(), StoreError> {
        let mut instances = self.lock();
        let key = (commit.pm.to_owned(), commit.process_id.clone());
        let found = instances.get(&key).map_or(0, |i| i.revision);
        if found + 1 != commit.revision {
            return Err(StoreError::Conflict {
                pm: commit.pm.to_owned(),
                process_id: commit.process_id,
                expected: commit.revision - 1,
                found,
            });
        }
        let instance = instances.entry(key).or_insert_with(|| StoredInstance {
            status: InstanceStatus::Running,
            revision: 0,
            state: Vec::new(),
            handled: Vec::new(),
            outbox: Vec::new(),
            completed: Vec::new(),
        });
        instance.revision = commit.revision;
        instance.status = commit.status;
        if let Some(state) = commit.state {
            instance.state = state;
        }
        instance.handled.extend(commit.handled);
        instance.outbox.extend(commit.enqueue);
        for (command_id, settlement) in commit.settle {
            if let Some(at) = instance
                .outbox
                .iter()
                .position(|c| c.command_id == command_id)
            {
                let command = instance.outbox.remove(at);
                if settlement == Settlement::Completed {
                    instance.completed.push(command);
                }
            }
        }
        Ok(())
    }
}

impl Store for InMemoryStore {
    fn load<'a>(
        &'a self,
        pm: &'a str,
        process_id: &'a ProcessId,
    ) -> StoreFuture<'a, Option<StoredInstance>> {
        let found = self
            .lock()
            .get(&(pm.to_owned(), process_id.clone()))
            .cloned();
        Box::pin(std::future::ready(Ok(found)))
    }

    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        Box::pin(std::future::ready(self.apply(commit)))
    }

    fn is_durable(&self) -> bool {
        false
    }
}
