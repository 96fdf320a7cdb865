//! Reads across instances, purging, and the process-manager registry.

use tokio_postgres::GenericClient;
use uuid::Uuid;

use super::commit::{from_json, status, to_json};
use crate::error::StoreError;
use crate::ids::ProcessId;
use crate::status::InstanceStatus;
use crate::store::{DueTimer, InstanceSummary, ProcessManagerInfo};

/// Pending timers due by `until_ms` across every process manager, earliest first.
pub(crate) async fn due_timers(
    client: &impl GenericClient,
    until_ms: u64,
    limit: usize,
) -> Result<Vec<DueTimer>, StoreError> {
    // Stored times fit in an `i64`, so clamping the bounds changes no answer.
    let until = i64::try_from(until_ms).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            "SELECT pm, process_id, timer_id, due_at_ms FROM pm_timer \
             WHERE due_at_ms <= $1 ORDER BY due_at_ms, timer_id LIMIT $2",
            &[&until, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| DueTimer {
            pm: r.get(0),
            process_id: ProcessId::from(r.get::<_, String>(1)),
            timer_id: r.get::<_, Uuid>(2),
            due_at_ms: r.get::<_, i64>(3) as u64,
        })
        .collect())
}

/// Instances of `pm` with work left, by process id (byte order, as `ProcessId` sorts).
pub(crate) async fn unfinished(
    client: &impl GenericClient,
    pm: &str,
) -> Result<Vec<ProcessId>, StoreError> {
    let rows = client
        .query(
            "SELECT process_id FROM pm_instance WHERE pm = $1 AND ( \
             (status <> $2 AND jsonb_array_length(outbox) > 0) \
             OR (status = $3 AND jsonb_array_length(stash) > 0)) \
             ORDER BY process_id COLLATE \"C\"",
            &[
                &pm,
                &InstanceStatus::Parked.as_str(),
                &InstanceStatus::Running.as_str(),
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ProcessId::from(r.get::<_, String>(0)))
        .collect())
}

/// Every instance of `pm`, by process id.
pub(crate) async fn instances(
    client: &impl GenericClient,
    pm: &str,
) -> Result<Vec<InstanceSummary>, StoreError> {
    let rows = client
        .query(
            "SELECT process_id, status, revision, updated_at_ms, jsonb_array_length(outbox) \
             FROM pm_instance WHERE pm = $1 ORDER BY process_id COLLATE \"C\"",
            &[&pm],
        )
        .await?;
    let mut list = Vec::with_capacity(rows.len());
    for r in rows {
        list.push(InstanceSummary {
            process_id: ProcessId::from(r.get::<_, String>(0)),
            status: status(r.get(1))?,
            revision: r.get::<_, i64>(2) as u64,
            updated_at_ms: r.get::<_, i64>(3) as u64,
            outbox: r.get::<_, i32>(4) as usize,
        });
    }
    Ok(list)
}

/// Deletes the finished instances of `pm` last changed before `before_ms`, with their timers.
pub(crate) async fn purge_finished(
    client: &mut deadpool_postgres::Client,
    pm: &str,
    before_ms: u64,
) -> Result<u64, StoreError> {
    // Stored times are at most `i64::MAX`, so a larger bound takes every finished instance.
    let (bound, unbounded) = match i64::try_from(before_ms) {
        Ok(bound) => (bound, false),
        Err(_) => (i64::MAX, true),
    };
    let finished: Vec<&str> = [InstanceStatus::Completed, InstanceStatus::Compensated]
        .iter()
        .map(|s| s.as_str())
        .collect();
    let tx = client.transaction().await?;
    let purged = tx
        .query(
            "DELETE FROM pm_instance WHERE pm = $1 AND status = ANY($2) \
             AND (updated_at_ms < $3 OR $4) RETURNING process_id",
            &[&pm, &finished, &bound, &unbounded],
        )
        .await?;
    let ids: Vec<String> = purged.iter().map(|r| r.get(0)).collect();
    if !ids.is_empty() {
        tx.execute(
            "DELETE FROM pm_timer WHERE pm = $1 AND process_id = ANY($2)",
            &[&pm, &ids],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(ids.len() as u64)
}

/// Records a process manager, replacing an earlier record of the same name.
pub(crate) async fn register(
    client: &impl GenericClient,
    info: &ProcessManagerInfo,
) -> Result<(), StoreError> {
    let events = to_json(
        || "the event types of a process manager".into(),
        &info.events,
    )?;
    let version = i32::try_from(info.version).unwrap_or(i32::MAX);
    client
        .execute(
            "INSERT INTO pm_type (name, version, diagram, events) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET version = excluded.version, \
             diagram = excluded.diagram, events = excluded.events",
            &[&info.name, &version, &info.diagram, &events],
        )
        .await?;
    Ok(())
}

/// Every registered process manager, by name.
pub(crate) async fn process_managers(
    client: &impl GenericClient,
) -> Result<Vec<ProcessManagerInfo>, StoreError> {
    let rows = client
        .query(
            "SELECT name, version, diagram, events FROM pm_type ORDER BY name COLLATE \"C\"",
            &[],
        )
        .await?;
    let mut list = Vec::with_capacity(rows.len());
    for r in rows {
        let name: String = r.get(0);
        let events = from_json(&format!("the event types of `{name}`"), r.get(3))?;
        list.push(ProcessManagerInfo {
            version: r.get::<_, i32>(1) as u32,
            diagram: r.get(2),
            events,
            name,
        });
    }
    Ok(list)
}
