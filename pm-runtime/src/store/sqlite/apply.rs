//! The SQL of one commit and of a purge, run by the writer inside its group transaction.

use rusqlite::{CachedStatement, Connection, OptionalExtension, params};
use uuid::Uuid;

use super::codec::{EncodedCommit, RowOf, finished_statuses_sql};
use super::error::SqliteError;
use crate::error::StoreError;
use crate::status::InstanceStatus;
use crate::store::{
    Change, DeadLetter, NotParked, ParkedAction, ProcessManagerInfo, Resolution, Settlement,
};

const INSERT_INSTANCE: &str = "INSERT INTO pm_instance (pm, process_id, status, revision, \
    state, state_version, updated_at_ms, dead_letter) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
    ON CONFLICT (pm, process_id) DO NOTHING";

// A `NULL` state means "unchanged": the state and the version that wrote it stay together.
const UPDATE_INSTANCE: &str = "UPDATE pm_instance SET status = ?3, revision = ?4, \
    updated_at_ms = ?5, state = coalesce(?6, state), \
    state_version = CASE WHEN ?6 IS NULL THEN state_version ELSE ?7 END, \
    dead_letter = CASE WHEN ?8 THEN ?9 ELSE dead_letter END \
    WHERE pm = ?1 AND process_id = ?2 AND revision = ?4 - 1";

const INSERT_HANDLED: &str =
    "INSERT INTO pm_handled (pm, process_id, event_id) VALUES (?1, ?2, ?3)";

/// The statements nearly every commit runs, taken from the connection's statement cache once
/// per group rather than once per commit: each cache lookup hashes the whole SQL text.
pub(crate) struct CommitStatements<'c> {
    conn: &'c Connection,
    insert_instance: Option<CachedStatement<'c>>,
    update_instance: Option<CachedStatement<'c>>,
    insert_handled: Option<CachedStatement<'c>>,
}

impl<'c> CommitStatements<'c> {
    /// Statements on `conn`, each prepared (or fetched from the cache) when first needed.
    pub(crate) fn new(conn: &'c Connection) -> Self {
        Self {
            conn,
            insert_instance: None,
            update_instance: None,
            insert_handled: None,
        }
    }
}

fn cached<'s, 'c>(
    conn: &'c Connection,
    slot: &'s mut Option<CachedStatement<'c>>,
    sql: &str,
) -> rusqlite::Result<&'s mut CachedStatement<'c>> {
    if let Some(statement) = slot {
        return Ok(statement);
    }
    Ok(slot.insert(conn.prepare_cached(sql)?))
}

/// How a commit failed.
#[derive(Debug)]
pub(crate) enum CommitFailure {
    /// It wrote nothing (a revision conflict): the transaction holds no trace of it.
    Untouched(StoreError),
    /// It may have written rows that only rolling back the whole transaction undoes.
    Partial(StoreError),
}

impl From<StoreError> for CommitFailure {
    fn from(error: StoreError) -> Self {
        CommitFailure::Partial(error)
    }
}

impl From<rusqlite::Error> for CommitFailure {
    fn from(error: rusqlite::Error) -> Self {
        CommitFailure::Partial(error.into())
    }
}

/// Applies one commit; a revision conflict is [`CommitFailure::Untouched`], any other error
/// [`CommitFailure::Partial`].
///
/// The steps follow the in-memory store's order exactly: enqueue before settle (a command
/// queued and settled in one commit is settled), unschedule before schedule, unstash before
/// stash.
pub(crate) fn apply_commit(
    statements: &mut CommitStatements<'_>,
    c: &EncodedCommit,
) -> Result<(), CommitFailure> {
    let conn = statements.conn;
    let key = (c.pm, c.process_id.as_str());
    // The revision check is the write's own condition and the commit's first statement: an
    // insert of revision 1 finds no row, an update matches only the revision before this one.
    // So a conflict has written nothing, and the group it belongs to carries on without it.
    let written = if c.revision == 1 {
        insert_instance(statements, c)?
    } else {
        update_instance(statements, c)?
    };
    if !written {
        // The stored revision is read only to report the conflict.
        let found: Option<u64> = conn
            .prepare_cached("SELECT revision FROM pm_instance WHERE pm = ?1 AND process_id = ?2")?
            .query_row(key, |row| row.get(0))
            .optional()?;
        return Err(CommitFailure::Untouched(StoreError::Conflict {
            pm: c.pm.to_owned(),
            process_id: c.process_id.clone(),
            expected: c.revision.saturating_sub(1),
            found: found.unwrap_or(0),
        }));
    }
    if let Some(event_id) = c.handled {
        // The text `Uuid::to_string` gives, which readers parse back.
        let mut text = Uuid::encode_buffer();
        let event_id: &str = event_id.hyphenated().encode_lower(&mut text);
        cached(conn, &mut statements.insert_handled, INSERT_HANDLED)?
            .execute((key.0, key.1, event_id))?;
    }
    // Each statement is looked up in the cache only when the commit has rows for it: most
    // commits carry a state and a handled event id, nothing else.
    if !c.enqueue.is_empty() {
        let mut enqueue = conn.prepare_cached(
            "INSERT INTO pm_outbox (pm, process_id, command_id, envelope) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (command_id, envelope) in &c.enqueue {
            enqueue.execute((key.0, key.1, command_id, envelope))?;
        }
    }
    for (command_id, settlement) in &c.settle {
        settle(conn, c, command_id, *settlement)?;
    }
    if !c.unschedule.is_empty() {
        let mut unschedule = conn.prepare_cached(
            "DELETE FROM pm_timer WHERE pm = ?1 AND process_id = ?2 AND timer_id = ?3",
        )?;
        for timer_id in &c.unschedule {
            unschedule.execute((key.0, key.1, timer_id))?;
        }
    }
    if !c.schedule.is_empty() {
        let mut schedule = conn.prepare_cached(
            "INSERT INTO pm_timer (pm, process_id, timer_id, due_at_ms, event) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for t in &c.schedule {
            schedule.execute((key.0, key.1, &t.timer_id, t.due_at_ms, &t.event))?;
        }
    }
    if c.unstash > 0 {
        conn.prepare_cached(
            "DELETE FROM pm_stash WHERE seq IN (SELECT seq FROM pm_stash \
             WHERE pm = ?1 AND process_id = ?2 ORDER BY seq LIMIT ?3)",
        )?
        .execute((key.0, key.1, c.unstash))?;
    }
    if !c.stash.is_empty() {
        let mut stash = conn
            .prepare_cached("INSERT INTO pm_stash (pm, process_id, event) VALUES (?1, ?2, ?3)")?;
        for event in &c.stash {
            stash.execute((key.0, key.1, event))?;
        }
    }
    Ok(())
}

/// Creates the instance at revision 1; false (and nothing written) when it already exists.
fn insert_instance(
    statements: &mut CommitStatements<'_>,
    c: &EncodedCommit,
) -> Result<bool, StoreError> {
    let dead_letter = match &c.dead_letter {
        Change::Set(record) => Some(record.as_str()),
        Change::Keep | Change::Clear => None,
    };
    let inserted = cached(
        statements.conn,
        &mut statements.insert_instance,
        INSERT_INSTANCE,
    )?
    .execute(params![
        c.pm,
        c.process_id.as_str(),
        c.status,
        c.revision,
        c.state.as_deref().unwrap_or_default(),
        c.state_version,
        c.at_ms,
        dead_letter,
    ])?;
    Ok(inserted == 1)
}

/// Moves the instance from the revision before `c`'s to `c`'s; false (and nothing written)
/// when the stored revision is another.
fn update_instance(
    statements: &mut CommitStatements<'_>,
    c: &EncodedCommit,
) -> Result<bool, StoreError> {
    let (change_dead_letter, dead_letter) = match &c.dead_letter {
        Change::Keep => (false, None),
        Change::Set(record) => (true, Some(record.as_str())),
        Change::Clear => (true, None),
    };
    let updated = cached(
        statements.conn,
        &mut statements.update_instance,
        UPDATE_INSTANCE,
    )?
    .execute(params![
        c.pm,
        c.process_id.as_str(),
        c.status,
        c.revision,
        c.at_ms,
        c.state.as_deref(),
        c.state_version,
        change_dead_letter,
        dead_letter,
    ])?;
    Ok(updated == 1)
}

/// Moves the first outbox entry with `command_id` to the completed log, or drops it; an id
/// not in the outbox is ignored, as a settlement may be redelivered.
fn settle(
    conn: &Connection,
    c: &EncodedCommit,
    command_id: &str,
    settlement: Settlement,
) -> Result<(), StoreError> {
    let key = (c.pm, c.process_id.as_str());
    let row: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT seq, envelope FROM pm_outbox \
             WHERE pm = ?1 AND process_id = ?2 AND command_id = ?3 ORDER BY seq LIMIT 1",
        )?
        .query_row((key.0, key.1, command_id), |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    let Some((seq, envelope)) = row else {
        return Ok(());
    };
    conn.prepare_cached("DELETE FROM pm_outbox WHERE seq = ?1")?
        .execute([seq])?;
    if settlement == Settlement::Completed {
        conn.prepare_cached(
            "INSERT INTO pm_completed (pm, process_id, command_id, envelope) \
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute((key.0, key.1, command_id, envelope))?;
    }
    Ok(())
}

/// Deletes the finished instances of `pm` last changed before `before_ms`, with every row
/// that belongs to them; returns how many instances went.
pub(crate) fn purge_finished(
    conn: &Connection,
    pm: &str,
    before_ms: u64,
) -> Result<u64, StoreError> {
    // Stored times are at most `i64::MAX`, so a larger bound takes every finished instance.
    let (bound, unbounded) = match i64::try_from(before_ms) {
        Ok(bound) => (bound, false),
        Err(_) => (i64::MAX, true),
    };
    let doomed = format!(
        "SELECT process_id FROM pm_instance WHERE pm = ?1 AND status IN ({}) \
         AND (updated_at_ms < ?2 OR ?3)",
        finished_statuses_sql()
    );
    for child in [
        "pm_handled",
        "pm_outbox",
        "pm_completed",
        "pm_timer",
        "pm_stash",
    ] {
        conn.prepare_cached(&format!(
            "DELETE FROM {child} WHERE pm = ?1 AND process_id IN ({doomed})"
        ))?
        .execute((pm, bound, unbounded))?;
    }
    let purged = conn
        .prepare_cached(&format!(
            "DELETE FROM pm_instance WHERE pm = ?1 AND process_id IN ({doomed})"
        ))?
        .execute((pm, bound, unbounded))?;
    Ok(purged as u64)
}

/// Records a process manager, replacing an earlier record of the same name.
pub(crate) fn register(conn: &Connection, info: &ProcessManagerInfo) -> Result<(), StoreError> {
    let events = serde_json::to_string(&info.events).map_err(|source| SqliteError::Serialize {
        what: "the event types of a process manager",
        source,
    })?;
    conn.prepare_cached(
        "INSERT INTO pm_type (name, version, diagram, events) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (name) DO UPDATE SET version = excluded.version, \
         diagram = excluded.diagram, events = excluded.events",
    )?
    .execute(params![info.name, info.version, info.diagram, events])?;
    Ok(())
}

/// Resolves a parked instance in place (see `Store::resolve_parked`); the caller's
/// savepoint makes the read and the writes one atomic step.
pub(crate) fn resolve_parked(
    conn: &Connection,
    pm: &str,
    process_id: &str,
    action: ParkedAction,
    at_ms: u64,
) -> Result<(), StoreError> {
    let key = (pm, process_id);
    let row = RowOf { pm, process_id };
    let head: Option<(String, Option<String>)> = conn
        .prepare_cached(
            "SELECT status, dead_letter FROM pm_instance WHERE pm = ?1 AND process_id = ?2",
        )?
        .query_row(key, |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let not_parked = |status| NotParked {
        pm: pm.to_owned(),
        process_id: process_id.into(),
        status,
    };
    let Some((status, dead_letter)) = head else {
        return Err(not_parked(None).into());
    };
    let status = row.status(&status)?;
    let dead_letter = match dead_letter {
        Some(json) if status == InstanceStatus::Parked => {
            row.json::<DeadLetter>("dead letter", &json)?
        }
        _ => return Err(not_parked(Some(status)).into()),
    };
    let outbox: Vec<(i64, String)> = {
        let mut statement = conn.prepare_cached(
            "SELECT seq, command_id FROM pm_outbox WHERE pm = ?1 AND process_id = ?2 ORDER BY seq",
        )?;
        let rows = statement.query_map(key, |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let head = match outbox.first() {
        Some((_, id)) => Some(row.uuid("outbox command id", id)?),
        None => None,
    };
    let r = Resolution::of(action, dead_letter, head, outbox.len());
    if let Some(event_id) = r.handled {
        conn.prepare_cached(
            "INSERT INTO pm_handled (pm, process_id, event_id) VALUES (?1, ?2, ?3)",
        )?
        .execute((pm, process_id, event_id.to_string()))?;
    }
    if let (Some(_), Some((seq, _))) = (r.cancel, outbox.first()) {
        conn.prepare_cached("DELETE FROM pm_outbox WHERE seq = ?1")?
            .execute([seq])?;
    }
    if let Some(event) = &r.restash {
        restash_first(conn, key, event)?;
    }
    if r.status.is_finished() {
        conn.prepare_cached("DELETE FROM pm_timer WHERE pm = ?1 AND process_id = ?2")?
            .execute(key)?;
    }
    let at = i64::try_from(at_ms).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "UPDATE pm_instance SET status = ?3, revision = revision + 1, updated_at_ms = ?4, \
         dead_letter = NULL WHERE pm = ?1 AND process_id = ?2",
    )?
    .execute(params![pm, process_id, r.status.as_str(), at])?;
    Ok(())
}

/// Puts `event` before the instance's stashed events: rows read back by `seq`, and a new row
/// always gets a higher `seq` than any existing one, so the stash is written again behind it.
fn restash_first(
    conn: &Connection,
    key: (&str, &str),
    event: &crate::envelope::EventEnvelope,
) -> Result<(), StoreError> {
    let first = serde_json::to_string(event).map_err(|source| SqliteError::Serialize {
        what: "the dead-letter event",
        source,
    })?;
    let stashed: Vec<String> = {
        let mut statement = conn.prepare_cached(
            "SELECT event FROM pm_stash WHERE pm = ?1 AND process_id = ?2 ORDER BY seq",
        )?;
        let rows = statement.query_map(key, |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    conn.prepare_cached("DELETE FROM pm_stash WHERE pm = ?1 AND process_id = ?2")?
        .execute(key)?;
    let mut insert =
        conn.prepare_cached("INSERT INTO pm_stash (pm, process_id, event) VALUES (?1, ?2, ?3)")?;
    for event in std::iter::once(&first).chain(&stashed) {
        insert.execute((key.0, key.1, event))?;
    }
    Ok(())
}
