//! Conversions between the store's structs and column values.
//!
//! Encoding happens on the caller's task, before a commit reaches the writer thread, so the one
//! writer spends its time in SQLite rather than in serde. Decoding happens on reader threads.

use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::error::SqliteError;
use crate::ids::ProcessId;
use crate::status::InstanceStatus;
use crate::store::{Change, Commit, Settlement};

/// Every status, for parsing the stored word back strictly.
const STATUSES: [InstanceStatus; 6] = [
    InstanceStatus::Running,
    InstanceStatus::Completing,
    InstanceStatus::Compensating,
    InstanceStatus::Completed,
    InstanceStatus::Compensated,
    InstanceStatus::Parked,
];

// A new status breaks this match, a reminder to add it to `STATUSES`.
const _: fn(InstanceStatus) = |status| match status {
    InstanceStatus::Running
    | InstanceStatus::Completing
    | InstanceStatus::Compensating
    | InstanceStatus::Completed
    | InstanceStatus::Compensated
    | InstanceStatus::Parked => {}
};

/// The stored words of the finished statuses, as an SQL list: `'completed', 'compensated'`.
pub(crate) fn finished_statuses_sql() -> String {
    STATUSES
        .iter()
        .filter(|s| s.is_finished())
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a stored value came from, for decode errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowOf<'a> {
    pub(crate) pm: &'a str,
    pub(crate) process_id: &'a str,
}

impl RowOf<'_> {
    pub(crate) fn error(&self, what: &'static str, reason: impl ToString) -> SqliteError {
        SqliteError::Decode {
            pm: self.pm.to_owned(),
            process_id: self.process_id.to_owned(),
            what,
            reason: reason.to_string(),
        }
    }

    pub(crate) fn status(&self, word: &str) -> Result<InstanceStatus, SqliteError> {
        STATUSES
            .into_iter()
            .find(|s| s.as_str() == word)
            .ok_or_else(|| self.error("status", format!("unknown status `{word}`")))
    }

    pub(crate) fn uuid(&self, what: &'static str, text: &str) -> Result<Uuid, SqliteError> {
        Uuid::parse_str(text).map_err(|e| self.error(what, e))
    }

    pub(crate) fn json<T: DeserializeOwned>(
        &self,
        what: &'static str,
        text: &str,
    ) -> Result<T, SqliteError> {
        serde_json::from_str(text).map_err(|e| self.error(what, e))
    }
}

/// A timer ready for its row.
#[derive(Debug)]
pub(crate) struct EncodedTimer {
    pub(crate) timer_id: String,
    pub(crate) due_at_ms: i64,
    pub(crate) event: String,
}

/// A [`Commit`] with every value in the form its column takes.
#[derive(Debug)]
pub(crate) struct EncodedCommit {
    pub(crate) pm: &'static str,
    pub(crate) process_id: ProcessId,
    pub(crate) revision: u64,
    pub(crate) status: &'static str,
    pub(crate) state: Option<Vec<u8>>,
    pub(crate) state_version: u32,
    // Kept as a `Uuid` and written as text on the writer, from a stack buffer: one
    // allocation fewer per commit.
    pub(crate) handled: Option<Uuid>,
    /// `(command_id, envelope)`.
    pub(crate) enqueue: Vec<(String, String)>,
    pub(crate) settle: Vec<(String, Settlement)>,
    pub(crate) schedule: Vec<EncodedTimer>,
    pub(crate) unschedule: Vec<String>,
    pub(crate) dead_letter: Change<String>,
    pub(crate) stash: Vec<String>,
    pub(crate) unstash: i64,
    pub(crate) at_ms: i64,
}

/// Serialises everything a commit carries; fails on a payload that will not serialise or a
/// number SQLite cannot hold.
pub(crate) fn encode(commit: Commit) -> Result<EncodedCommit, SqliteError> {
    let who = (commit.pm, &commit.process_id);
    // Checked here so the writer can bind the revision as an integer without failing.
    int(who, "the revision", commit.revision)?;
    let mut enqueue = Vec::with_capacity(commit.enqueue.len());
    for command in &commit.enqueue {
        let what = || {
            format!(
                "command `{}` ({})",
                command.command_type, command.command_id
            )
        };
        enqueue.push((command.command_id.to_string(), json(who, what, command)?));
    }
    let mut schedule = Vec::with_capacity(commit.schedule.len());
    for timer in &commit.schedule {
        schedule.push(EncodedTimer {
            timer_id: timer.timer_id.to_string(),
            due_at_ms: int(who, "a timer's due time", timer.due_at_ms)?,
            event: json(who, || format!("timer {}", timer.timer_id), &timer.event)?,
        });
    }
    let mut stash = Vec::with_capacity(commit.stash.len());
    for event in &commit.stash {
        let what = || format!("stashed event `{}` ({})", event.event_type, event.event_id);
        stash.push(json(who, what, event)?);
    }
    let dead_letter = match &commit.dead_letter {
        Change::Keep => Change::Keep,
        Change::Set(record) => Change::Set(json(who, || "the dead letter".into(), record)?),
        Change::Clear => Change::Clear,
    };
    let at_ms = int(who, "the commit time", commit.at_ms)?;
    Ok(EncodedCommit {
        pm: commit.pm,
        revision: commit.revision,
        status: commit.status.as_str(),
        state_version: commit.state_version,
        handled: commit.handled,
        enqueue,
        settle: (commit.settle.iter())
            .map(|(id, settlement)| (id.to_string(), *settlement))
            .collect(),
        schedule,
        unschedule: commit.unschedule.iter().map(Uuid::to_string).collect(),
        dead_letter,
        stash,
        // Asking to unstash more than the stash holds empties it, so clamping loses nothing.
        unstash: i64::try_from(commit.unstash).unwrap_or(i64::MAX),
        at_ms,
        state: commit.state,
        process_id: commit.process_id,
    })
}

type Who<'a> = (&'static str, &'a ProcessId);

fn json<T: Serialize>(
    (pm, process_id): Who<'_>,
    what: impl FnOnce() -> String,
    value: &T,
) -> Result<String, SqliteError> {
    serde_json::to_string(value).map_err(|source| SqliteError::Encode {
        pm,
        process_id: process_id.clone(),
        what: what(),
        source,
    })
}

fn int((pm, process_id): Who<'_>, what: &'static str, value: u64) -> Result<i64, SqliteError> {
    i64::try_from(value).map_err(|_| SqliteError::OutOfRange {
        pm,
        process_id: process_id.clone(),
        what,
        value,
    })
}
