//! One commit as one fenced transaction, loading an instance, and resolving a parked one.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use super::error::PostgresError;
use crate::error::StoreError;
use crate::ids::ProcessId;
use crate::status::InstanceStatus;
use crate::store::{
    Change, Commit, DeadLetter, NotParked, ParkedAction, Resolution, Settlement, StoredInstance,
    Timer,
};

pub(crate) fn to_json<T: Serialize>(
    what: impl FnOnce() -> String,
    v: &T,
) -> Result<Value, PostgresError> {
    serde_json::to_value(v).map_err(|source| PostgresError::Json {
        action: "encode",
        what: what(),
        source,
    })
}

pub(crate) fn from_json<T: DeserializeOwned>(what: &str, v: Value) -> Result<T, PostgresError> {
    serde_json::from_value(v).map_err(|source| PostgresError::Json {
        action: "decode",
        what: what.to_owned(),
        source,
    })
}

pub(crate) fn int(what: &'static str, value: u64) -> Result<i64, PostgresError> {
    i64::try_from(value).map_err(|_| PostgresError::OutOfRange { what, value })
}

pub(crate) fn status(word: &str) -> Result<InstanceStatus, PostgresError> {
    serde_json::from_value(Value::String(word.to_owned())).map_err(|_| PostgresError::Unknown {
        what: "status",
        value: word.to_owned(),
    })
}

fn command_id(value: &Value) -> Option<Uuid> {
    value
        .get("command_id")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
}

/// The fencing statement: touches the partition's lease row only while this node holds it
/// at `epoch` and it has not expired by the database's clock.
const FENCE: &str = "UPDATE pm_lease SET epoch = epoch \
     WHERE pm = $1 AND partition = $2 AND owner = $3 AND epoch = $4 AND expires_at > now()";

/// What a commit fenced by a lease needs to know of it.
pub(crate) struct Fence<'a> {
    pub(crate) partition: u32,
    pub(crate) node: &'a str,
    pub(crate) epoch: i64,
}

/// Why a commit did not land.
pub(crate) enum Refused {
    /// The lease moved on: nothing was written.
    Fenced,
    /// Any other failure.
    Store(StoreError),
}

impl<E: Into<StoreError>> From<E> for Refused {
    fn from(error: E) -> Self {
        Refused::Store(error.into())
    }
}

/// Applies `c` in one transaction on `client`: the fence first, then the revision check on the
/// locked instance row, then the writes. Mirrors the in-memory store's order exactly: enqueue
/// before settle, unschedule before schedule, unstash before stash.
pub(crate) async fn apply(
    client: &mut deadpool_postgres::Client,
    c: Commit,
    fence: Fence<'_>,
) -> Result<(), Refused> {
    let who = |what: String| format!("{what} of `{}` instance `{}`", c.pm, c.process_id);
    let revision = int("the revision", c.revision).map_err(StoreError::from)?;
    let at_ms = int("the commit time", c.at_ms).map_err(StoreError::from)?;
    let state_version = i32::try_from(c.state_version).map_err(|_| {
        StoreError::from(PostgresError::OutOfRange {
            what: "the state version",
            value: u64::from(c.state_version),
        })
    })?;
    let mut enqueue = Vec::with_capacity(c.enqueue.len());
    for command in &c.enqueue {
        enqueue.push(to_json(
            || who(format!("command `{}`", command.command_type)),
            command,
        )?);
    }
    let mut stash = Vec::with_capacity(c.stash.len());
    for event in &c.stash {
        stash.push(to_json(
            || who(format!("stashed event `{}`", event.event_type)),
            event,
        )?);
    }
    let (change_dead_letter, dead_letter) = match &c.dead_letter {
        Change::Keep => (false, None),
        Change::Set(record) => (
            true,
            Some(to_json(|| who("the dead letter".into()), record)?),
        ),
        Change::Clear => (true, None),
    };
    let mut timer_ids = Vec::with_capacity(c.schedule.len());
    let mut timer_dues = Vec::with_capacity(c.schedule.len());
    let mut timer_events = Vec::with_capacity(c.schedule.len());
    for t in &c.schedule {
        timer_ids.push(t.timer_id);
        timer_dues.push(int("a timer's due time", t.due_at_ms).map_err(StoreError::from)?);
        timer_events.push(to_json(|| who(format!("timer {}", t.timer_id)), &t.event)?);
    }
    let handled: Vec<Uuid> = c.handled.into_iter().collect();
    let pid = c.process_id.as_str();
    let partition = fence.partition as i32;

    let tx = client.transaction().await?;
    let fence_sql = tx.prepare_cached(FENCE).await?;
    let select_sql = tx
        .prepare_cached(
            "SELECT revision, outbox, stash FROM pm_instance \
             WHERE pm = $1 AND process_id = $2 FOR UPDATE",
        )
        .await?;
    let fence_params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&c.pm, &partition, &fence.node, &fence.epoch];
    let select_params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&c.pm, &pid];
    // Pipelined: the fence and the row lock travel together; a fenced commit rolls back.
    let (fenced, row) = tokio::join!(
        tx.execute(&fence_sql, &fence_params),
        tx.query_opt(&select_sql, &select_params),
    );
    if fenced? == 0 {
        return Err(Refused::Fenced);
    }
    let row = row?;
    let found = row.as_ref().map_or(0, |r| r.get::<_, i64>(0));
    if found + 1 != revision {
        return Err(conflict(c.pm, &c.process_id, c.revision, found).into());
    }
    let (mut outbox, mut old_stash): (Vec<Value>, Vec<Value>) = match &row {
        Some(r) => (
            from_json("the stored outbox", r.get(1))?,
            from_json("the stored stash", r.get(2))?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    outbox.extend(enqueue);
    let mut completed = Vec::new();
    for (id, settlement) in &c.settle {
        if let Some(at) = outbox.iter().position(|v| command_id(v) == Some(*id)) {
            let command = outbox.remove(at);
            if *settlement == Settlement::Completed {
                completed.push(command);
            }
        }
    }
    let unstash = c.unstash.min(old_stash.len());
    old_stash.drain(..unstash);
    old_stash.extend(stash);
    let (outbox, completed, stash) = (
        Value::Array(outbox),
        Value::Array(completed),
        Value::Array(old_stash),
    );
    let status = c.status.as_str();
    if row.is_none() {
        let insert = tx
            .prepare_cached(
                "INSERT INTO pm_instance (pm, process_id, partition, status, revision, state, \
                 state_version, updated_at_ms, handled, outbox, completed, stash, dead_letter) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (pm, process_id) DO NOTHING",
            )
            .await?;
        let inserted = tx
            .execute(
                &insert,
                &[
                    &c.pm,
                    &pid,
                    &partition,
                    &status,
                    &revision,
                    &c.state.as_deref().unwrap_or_default(),
                    &state_version,
                    &at_ms,
                    &handled,
                    &outbox,
                    &completed,
                    &stash,
                    &dead_letter,
                ],
            )
            .await?;
        if inserted == 0 {
            // Another first commit won the race; report the revision it wrote.
            drop(tx);
            let found: i64 = client
                .query_one(
                    "SELECT revision FROM pm_instance WHERE pm = $1 AND process_id = $2",
                    &[&c.pm, &pid],
                )
                .await?
                .get(0);
            return Err(conflict(c.pm, &c.process_id, c.revision, found).into());
        }
    } else {
        let update = tx
            .prepare_cached(
                "UPDATE pm_instance SET status = $3, revision = $4, updated_at_ms = $5, \
             state = coalesce($6, state), \
             state_version = CASE WHEN $6::bytea IS NULL THEN state_version ELSE $7 END, \
             handled = handled || $8::uuid[], outbox = $9, completed = completed || $10, \
             stash = $11, dead_letter = CASE WHEN $12 THEN $13 ELSE dead_letter END \
             WHERE pm = $1 AND process_id = $2",
            )
            .await?;
        tx.execute(
            &update,
            &[
                &c.pm,
                &pid,
                &status,
                &revision,
                &at_ms,
                &c.state.as_deref(),
                &state_version,
                &handled,
                &outbox,
                &completed,
                &stash,
                &change_dead_letter,
                &dead_letter,
            ],
        )
        .await?;
    }
    if !c.unschedule.is_empty() {
        tx.execute(
            "DELETE FROM pm_timer WHERE pm = $1 AND process_id = $2 AND timer_id = ANY($3)",
            &[&c.pm, &pid, &c.unschedule],
        )
        .await?;
    }
    if !timer_ids.is_empty() {
        tx.execute(
            "INSERT INTO pm_timer (pm, process_id, timer_id, due_at_ms, event) \
             SELECT $1, $2, t.id, t.due, t.event \
             FROM unnest($3::uuid[], $4::bigint[], $5::jsonb[]) WITH ORDINALITY AS t(id, due, event, n) \
             ORDER BY t.n",
            &[&c.pm, &pid, &timer_ids, &timer_dues, &timer_events],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn conflict(pm: &str, process_id: &ProcessId, revision: u64, found: i64) -> StoreError {
    StoreError::Conflict {
        pm: pm.to_owned(),
        process_id: process_id.clone(),
        expected: revision.saturating_sub(1),
        found: found as u64,
    }
}

/// Loads one instance and its timers in one statement (so from one snapshot).
pub(crate) async fn load(
    client: &deadpool_postgres::Client,
    pm: &str,
    process_id: &ProcessId,
) -> Result<Option<StoredInstance>, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT status, revision, state, state_version, updated_at_ms, handled, outbox, \
             completed, stash, dead_letter, \
             (SELECT coalesce(jsonb_agg(jsonb_build_object('timer_id', t.timer_id, \
                     'due_at_ms', t.due_at_ms, 'event', t.event) ORDER BY t.seq), '[]') \
              FROM pm_timer t WHERE t.pm = i.pm AND t.process_id = i.process_id) \
             FROM pm_instance i WHERE pm = $1 AND process_id = $2",
        )
        .await?;
    let row = client
        .query_opt(&statement, &[&pm, &process_id.as_str()])
        .await?;
    let Some(r) = row else {
        return Ok(None);
    };
    let who = |what: &str| format!("the stored {what} of `{pm}` instance `{process_id}`");
    let dead_letter: Option<Value> = r.get(9);
    Ok(Some(StoredInstance {
        status: status(r.get(0))?,
        revision: r.get::<_, i64>(1) as u64,
        state: r.get(2),
        state_version: r.get::<_, i32>(3) as u32,
        updated_at_ms: r.get::<_, i64>(4) as u64,
        handled: r.get(5),
        outbox: from_json(&who("outbox"), r.get(6))?,
        completed: from_json(&who("completed commands"), r.get(7))?,
        stash: from_json(&who("stash"), r.get(8))?,
        dead_letter: dead_letter
            .map(|v| from_json::<Box<DeadLetter>>(&who("dead letter"), v))
            .transpose()?,
        timers: from_json::<Vec<Timer>>(&who("timers"), r.get(10))?,
    }))
}

/// Resolves a parked instance in one transaction (see `Store::resolve_parked`). Not fenced:
/// it is an operator's action on a store no runtime is using.
pub(crate) async fn resolve_parked(
    client: &mut deadpool_postgres::Client,
    pm: &str,
    process_id: &ProcessId,
    action: ParkedAction,
    at_ms: u64,
) -> Result<(), StoreError> {
    let pid = process_id.as_str();
    let tx = client.transaction().await?;
    let row = tx
        .query_opt(
            "SELECT status, dead_letter, outbox, stash FROM pm_instance \
             WHERE pm = $1 AND process_id = $2 FOR UPDATE",
            &[&pm, &pid],
        )
        .await?;
    let not_parked = |status| NotParked {
        pm: pm.to_owned(),
        process_id: process_id.clone(),
        status,
    };
    let Some(r) = row else {
        return Err(not_parked(None).into());
    };
    let current = status(r.get(0))?;
    let dead_letter: Option<Value> = r.get(1);
    let dead_letter = match dead_letter {
        Some(v) if current == InstanceStatus::Parked => {
            from_json::<DeadLetter>("the dead letter", v)?
        }
        _ => return Err(not_parked(Some(current)).into()),
    };
    let mut outbox: Vec<Value> = from_json("the stored outbox", r.get(2))?;
    let mut stash: Vec<Value> = from_json("the stored stash", r.get(3))?;
    let head = outbox.first().and_then(command_id);
    let res = Resolution::of(action, dead_letter, head, outbox.len());
    if res.cancel.is_some() && !outbox.is_empty() {
        outbox.remove(0);
    }
    if let Some(event) = &res.restash {
        stash.insert(0, to_json(|| "the dead-letter event".into(), event)?);
    }
    let handled: Vec<Uuid> = res.handled.into_iter().collect();
    let at = i64::try_from(at_ms).unwrap_or(i64::MAX);
    tx.execute(
        "UPDATE pm_instance SET status = $3, revision = revision + 1, updated_at_ms = $4, \
         dead_letter = NULL, handled = handled || $5::uuid[], outbox = $6, stash = $7 \
         WHERE pm = $1 AND process_id = $2",
        &[
            &pm,
            &pid,
            &res.status.as_str(),
            &at,
            &handled,
            &Value::Array(outbox),
            &Value::Array(stash),
        ],
    )
    .await?;
    if res.status.is_finished() {
        tx.execute(
            "DELETE FROM pm_timer WHERE pm = $1 AND process_id = $2",
            &[&pm, &pid],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
