//! The in-memory store: for tests and non-durable use.

use std::collections::BTreeMap;
use std::collections::hash_map::Entry;
use std::future::Future;
use std::hash::BuildHasher;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use super::{
    Change, Commit, DeadLetter, DueTimer, InstanceSummary, NotParked, ParkedAction,
    ProcessManagerInfo, Resolution, Settlement, Store, StoreFuture, StoredInstance,
};
use crate::error::StoreError;
use crate::fast_map::HashMap;
use crate::ids::ProcessId;
use crate::status::InstanceStatus;
use crate::striped::Padded;

/// Instances by PM name, then by process id: a lookup borrows both, allocating nothing.
/// Boxed: inline, a stored instance would make every table slot (taken or not) that large
/// and every growth of the table a move of them all.
type Instances = HashMap<String, HashMap<ProcessId, Box<StoredInstance>>>;

/// Independent locks over the instances, so commits of different instances on different
/// cores rarely wait for each other.
const SHARDS: usize = 16;

/// A [`Store`] in a map: fast, and gone when the process exits.
///
/// It is what a runtime uses when no store is set. Commands and events are kept as they are
/// (typed payloads stay typed), so nothing is serialised but the instance state.
#[derive(Debug)]
pub struct InMemoryStore {
    /// Instances, spread over the shards by process id; padded, so locking one shard does
    /// not pull its neighbour's lock away from the other core.
    shards: Box<[Padded<Mutex<Instances>>]>,
    spread: foldhash::fast::RandomState,
    process_managers: Mutex<BTreeMap<String, ProcessManagerInfo>>,
}

impl Default for InMemoryStore {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Padded::default()).collect(),
            spread: foldhash::fast::RandomState::default(),
            process_managers: Mutex::default(),
        }
    }
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of instances stored, tombstones included.
    pub fn len(&self) -> usize {
        self.every_shard()
            .map(|shard| shard.values().map(HashMap::len).sum::<usize>())
            .sum()
    }

    /// Whether the store holds no instance.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shard holding `process_id`, locked.
    fn lock(&self, process_id: &ProcessId) -> MutexGuard<'_, Instances> {
        let shard = self.spread.hash_one(process_id.as_str()) as usize % SHARDS;
        lock(&self.shards[shard].0)
    }

    /// Every shard, locked one after the other.
    fn every_shard(&self) -> impl Iterator<Item = MutexGuard<'_, Instances>> {
        self.shards.iter().map(|shard| lock(&shard.0))
    }

    fn apply(&self, commit: Commit) -> Result<(), StoreError> {
        let mut instances = self.lock(&commit.process_id);
        let of_pm = match instances.get_mut(commit.pm) {
            Some(of_pm) => of_pm,
            None => instances.entry(commit.pm.to_owned()).or_default(),
        };
        // One hash of the process id: the revision check and the write share the entry.
        let entry = of_pm.entry(commit.process_id);
        let found = match &entry {
            Entry::Occupied(stored) => stored.get().revision,
            Entry::Vacant(_) => 0,
        };
        if found + 1 != commit.revision {
            return Err(StoreError::Conflict {
                pm: commit.pm.to_owned(),
                process_id: entry.key().clone(),
                expected: commit.revision.saturating_sub(1),
                found,
            });
        }
        let instance = entry.or_insert_with(|| {
            Box::new(StoredInstance {
                status: InstanceStatus::Running,
                revision: 0,
                state: Vec::new(),
                state_version: commit.state_version,
                handled: Vec::new(),
                outbox: Vec::new(),
                completed: Vec::new(),
                timers: Vec::new(),
                dead_letter: None,
                stash: Vec::new(),
                updated_at_ms: commit.at_ms,
            })
        });
        instance.revision = commit.revision;
        instance.status = commit.status;
        instance.updated_at_ms = commit.at_ms;
        if let Some(state) = commit.state {
            instance.state = state;
            instance.state_version = commit.state_version;
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
        if !commit.unschedule.is_empty() {
            (instance.timers).retain(|t| !commit.unschedule.contains(&t.timer_id));
        }
        instance.timers.extend(commit.schedule);
        match commit.dead_letter {
            Change::Keep => {}
            Change::Set(dead_letter) => instance.dead_letter = Some(dead_letter),
            Change::Clear => instance.dead_letter = None,
        }
        if commit.unstash > 0 {
            let unstash = commit.unstash.min(instance.stash.len());
            instance.stash.drain(..unstash);
        }
        instance.stash.extend(commit.stash);
        Ok(())
    }

    fn resolve(
        &self,
        pm: &str,
        process_id: &ProcessId,
        action: ParkedAction,
        at_ms: u64,
    ) -> Result<(), StoreError> {
        let mut instances = self.lock(process_id);
        let not_parked = |status| NotParked {
            pm: pm.to_owned(),
            process_id: process_id.clone(),
            status,
        };
        let Some(instance) = instances
            .get_mut(pm)
            .and_then(|of_pm| of_pm.get_mut(process_id))
        else {
            return Err(not_parked(None).into());
        };
        let dead_letter = match &instance.dead_letter {
            Some(dead_letter) if instance.status == InstanceStatus::Parked => {
                DeadLetter::clone(dead_letter)
            }
            _ => return Err(not_parked(Some(instance.status)).into()),
        };
        let head = instance.outbox.first().map(|c| c.command_id);
        let r = Resolution::of(action, dead_letter, head, instance.outbox.len());
        instance.revision += 1;
        instance.status = r.status;
        instance.updated_at_ms = at_ms;
        instance.dead_letter = None;
        instance.handled.extend(r.handled);
        if r.cancel.is_some() {
            instance.outbox.remove(0);
        }
        if let Some(event) = r.restash {
            instance.stash.insert(0, event);
        }
        if r.status.is_finished() {
            instance.timers.clear();
        }
        Ok(())
    }
}

/// Locks a shard. `apply` checks everything before it mutates, so a panic cannot leave a
/// half-applied commit behind a poisoned lock.
fn lock(shard: &Mutex<Instances>) -> MutexGuard<'_, Instances> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store for InMemoryStore {
    fn load<'a>(
        &'a self,
        pm: &'a str,
        process_id: &'a ProcessId,
    ) -> StoreFuture<'a, Option<StoredInstance>> {
        let found = self
            .lock(process_id)
            .get(pm)
            .and_then(|of_pm| of_pm.get(process_id))
            .map(|stored| StoredInstance::clone(stored));
        Box::pin(std::future::ready(Ok(found)))
    }

    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        match self.apply(commit) {
            Ok(()) => Box::pin(Applied),
            Err(error) => Box::pin(std::future::ready(Err(error))),
        }
    }

    fn due_timers(&self, until_ms: u64, limit: usize) -> StoreFuture<'_, Vec<DueTimer>> {
        let mut due = Vec::new();
        for shard in self.every_shard() {
            let instances = shard
                .iter()
                .flat_map(|(pm, of_pm)| of_pm.iter().map(move |(id, i)| (pm, id, i)));
            due.extend(instances.flat_map(|(pm, process_id, instance)| {
                instance
                    .timers
                    .iter()
                    .filter(|t| t.due_at_ms <= until_ms)
                    .map(|t| DueTimer {
                        pm: pm.clone(),
                        process_id: process_id.clone(),
                        timer_id: t.timer_id,
                        due_at_ms: t.due_at_ms,
                    })
            }));
        }
        due.sort_by_key(|t| (t.due_at_ms, t.timer_id));
        due.truncate(limit);
        Box::pin(std::future::ready(Ok(due)))
    }

    fn unfinished(&self, pm: &str) -> StoreFuture<'_, Vec<ProcessId>> {
        let mut ids = Vec::new();
        for shard in self.every_shard() {
            let of_pm = shard.get(pm).into_iter().flatten();
            ids.extend(
                of_pm
                    .filter(|(_, i)| {
                        (!i.outbox.is_empty() && i.status != InstanceStatus::Parked)
                            || (!i.stash.is_empty() && i.status == InstanceStatus::Running)
                    })
                    .map(|(id, _)| id.clone()),
            );
        }
        ids.sort();
        Box::pin(std::future::ready(Ok(ids)))
    }

    fn instances(&self, pm: &str) -> StoreFuture<'_, Vec<InstanceSummary>> {
        let mut list = Vec::new();
        for shard in self.every_shard() {
            let of_pm = shard.get(pm).into_iter().flatten();
            list.extend(of_pm.map(|(id, i)| InstanceSummary {
                process_id: id.clone(),
                status: i.status,
                revision: i.revision,
                outbox: i.outbox.len(),
                updated_at_ms: i.updated_at_ms,
            }));
        }
        list.sort_by(|a, b| a.process_id.cmp(&b.process_id));
        Box::pin(std::future::ready(Ok(list)))
    }

    fn purge_finished(&self, pm: &str, before_ms: u64) -> StoreFuture<'_, u64> {
        let mut purged = 0;
        for mut shard in self.every_shard() {
            if let Some(of_pm) = shard.get_mut(pm) {
                let before = of_pm.len();
                of_pm.retain(|_, i| !(i.status.is_finished() && i.updated_at_ms < before_ms));
                purged += (before - of_pm.len()) as u64;
            }
        }
        Box::pin(std::future::ready(Ok(purged)))
    }

    fn is_durable(&self) -> bool {
        false
    }

    fn register(&self, info: &ProcessManagerInfo) -> StoreFuture<'_, ()> {
        self.process_managers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(info.name.clone(), info.clone());
        Box::pin(std::future::ready(Ok(())))
    }

    fn process_managers(&self) -> StoreFuture<'_, Vec<ProcessManagerInfo>> {
        let list = self
            .process_managers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        Box::pin(std::future::ready(Ok(list)))
    }

    fn resolve_parked<'a>(
        &'a self,
        pm: &'a str,
        process_id: &'a ProcessId,
        action: ParkedAction,
        at_ms: u64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(
            self.resolve(pm, process_id, action, at_ms),
        ))
    }
}

/// The future of a commit already applied. It is zero-sized, so boxing it allocates
/// nothing: every event's commit returns one.
struct Applied;

impl Future for Applied {
    type Output = Result<(), StoreError>;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(Ok(()))
    }
}
