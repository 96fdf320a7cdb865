//! The read side: loading one instance and listing across instances.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::codec::RowOf;
use crate::envelope::{CommandEnvelope, EventEnvelope};
use crate::error::StoreError;
use crate::ids::ProcessId;
use crate::status::InstanceStatus;
use crate::store::{
    DeadLetter, DueTimer, InstanceSummary, ProcessManagerInfo, StoredInstance, Timer,
};

/// Loads one instance with all its rows, from one snapshot.
pub(crate) fn load(
    conn: &mut Connection,
    pm: &str,
    process_id: &str,
) -> Result<Option<StoredInstance>, StoreError> {
    // One read transaction, so the instance row and its child rows come from the same commit.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
    let row = RowOf { pm, process_id };
    let key = (pm, process_id);
    let head = tx
        .prepare_cached(
            "SELECT status, revision, state, state_version, updated_at_ms, dead_letter \
             FROM pm_instance WHERE pm = ?1 AND process_id = ?2",
        )?
        .query_row(key, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, u64>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })
        .optional()?;
    let Some((status, revision, state, state_version, updated_at_ms, dead_letter)) = head else {
        return Ok(None);
    };
    let handled = column(&tx, "SELECT event_id FROM pm_handled", key)?
        .iter()
        .map(|id| row.uuid("handled event id", id))
        .collect::<Result<_, _>>()?;
    let outbox = column(&tx, "SELECT envelope FROM pm_outbox", key)?
        .iter()
        .map(|json| row.json::<CommandEnvelope>("outbox command", json))
        .collect::<Result<_, _>>()?;
    let completed = column(&tx, "SELECT envelope FROM pm_completed", key)?
        .iter()
        .map(|json| row.json::<CommandEnvelope>("completed command", json))
        .collect::<Result<_, _>>()?;
    let stash = column(&tx, "SELECT event FROM pm_stash", key)?
        .iter()
        .map(|json| row.json::<EventEnvelope>("stashed event", json))
        .collect::<Result<_, _>>()?;
    let dead_letter = dead_letter
        .map(|json| row.json::<Box<DeadLetter>>("dead letter", &json))
        .transpose()?;
    Ok(Some(StoredInstance {
        status: row.status(&status)?,
        revision,
        state,
        state_version,
        handled,
        outbox,
        completed,
        timers: timers(&tx, row)?,
        dead_letter,
        stash,
        updated_at_ms,
    }))
}

/// One text column of an instance's child rows, in insertion order.
fn column(conn: &Connection, select: &str, key: (&str, &str)) -> Result<Vec<String>, StoreError> {
    let sql = format!("{select} WHERE pm = ?1 AND process_id = ?2 ORDER BY seq");
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(key, |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn timers(conn: &Connection, row: RowOf<'_>) -> Result<Vec<Timer>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT timer_id, due_at_ms, event FROM pm_timer \
         WHERE pm = ?1 AND process_id = ?2 ORDER BY seq",
    )?;
    let rows = statement.query_map((row.pm, row.process_id), |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, u64>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut timers = Vec::new();
    for found in rows {
        let (timer_id, due_at_ms, event) = found?;
        timers.push(Timer {
            timer_id: row.uuid("timer id", &timer_id)?,
            due_at_ms,
            event: row.json("timer event", &event)?,
        });
    }
    Ok(timers)
}

/// Pending timers due by `until_ms` across every process manager, earliest first.
pub(crate) fn due_timers(
    conn: &Connection,
    until_ms: u64,
    limit: usize,
) -> Result<Vec<DueTimer>, StoreError> {
    // Stored times fit in an `i64`, so clamping the bounds changes no answer.
    let until = i64::try_from(until_ms).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut statement = conn.prepare_cached(
        "SELECT pm, process_id, timer_id, due_at_ms FROM pm_timer \
         WHERE due_at_ms <= ?1 ORDER BY due_at_ms, timer_id LIMIT ?2",
    )?;
    let rows = statement.query_map((until, limit), |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, u64>(3)?,
        ))
    })?;
    let mut due = Vec::new();
    for found in rows {
        let (pm, process_id, timer_id, due_at_ms) = found?;
        let row = RowOf {
            pm: &pm,
            process_id: &process_id,
        };
        let timer_id = row.uuid("timer id", &timer_id)?;
        due.push(DueTimer {
            process_id: ProcessId::from(process_id),
            pm,
            timer_id,
            due_at_ms,
        });
    }
    Ok(due)
}

/// Instances of `pm` with commands left in their outbox and not parked, or with stashed
/// events and running, by process id.
pub(crate) fn unfinished(conn: &Connection, pm: &str) -> Result<Vec<ProcessId>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT i.process_id FROM pm_instance i WHERE i.pm = ?1 AND ( \
         (i.status <> ?2 AND EXISTS \
          (SELECT 1 FROM pm_outbox o WHERE o.pm = i.pm AND o.process_id = i.process_id)) \
         OR (i.status = ?3 AND EXISTS \
          (SELECT 1 FROM pm_stash s WHERE s.pm = i.pm AND s.process_id = i.process_id))) \
         ORDER BY i.process_id",
    )?;
    let parked = InstanceStatus::Parked.as_str();
    let running = InstanceStatus::Running.as_str();
    let rows = statement.query_map([pm, parked, running], |r| r.get::<_, String>(0))?;
    let mut ids = Vec::new();
    for id in rows {
        ids.push(ProcessId::from(id?));
    }
    Ok(ids)
}

/// Every instance of `pm`, by process id.
pub(crate) fn instances(conn: &Connection, pm: &str) -> Result<Vec<InstanceSummary>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT i.process_id, i.status, i.revision, i.updated_at_ms, \
         (SELECT count(*) FROM pm_outbox o WHERE o.pm = i.pm AND o.process_id = i.process_id) \
         FROM pm_instance i WHERE i.pm = ?1 ORDER BY i.process_id",
    )?;
    let rows = statement.query_map([pm], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, u64>(2)?,
            r.get::<_, u64>(3)?,
            r.get::<_, usize>(4)?,
        ))
    })?;
    let mut list = Vec::new();
    for found in rows {
        let (process_id, status, revision, updated_at_ms, outbox) = found?;
        let status = RowOf {
            pm,
            process_id: &process_id,
        }
        .status(&status)?;
        list.push(InstanceSummary {
            process_id: ProcessId::from(process_id),
            status,
            revision,
            outbox,
            updated_at_ms,
        });
    }
    Ok(list)
}

/// Every registered process manager, by name.
pub(crate) fn process_managers(conn: &Connection) -> Result<Vec<ProcessManagerInfo>, StoreError> {
    let mut statement =
        conn.prepare_cached("SELECT name, version, diagram, events FROM pm_type ORDER BY name")?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, u32>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut list = Vec::new();
    for found in rows {
        let (name, version, diagram, events) = found?;
        let events = RowOf {
            pm: &name,
            process_id: "",
        }
        .json("event types", &events)?;
        list.push(ProcessManagerInfo {
            name,
            version,
            diagram,
            events,
        });
    }
    Ok(list)
}
