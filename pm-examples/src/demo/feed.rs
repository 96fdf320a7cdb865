//! Feeds the event log into the runtime: the subscription a real deployment would have.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use pm_runtime::{EventEnvelope, Runtime};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::world::{LoggedEvent, World, WorldError};

/// Publishes the events logged after `cursor`, at most `limit`; returns the new cursor and
/// how many were published. Events of one saga go in log order; sagas run concurrently.
pub(super) async fn pump(
    runtime: &Runtime,
    world: &World,
    cursor: i64,
    limit: i64,
) -> Result<(i64, usize), WorldError> {
    let events = world.events_after(cursor, limit).await?;
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok((cursor, 0));
    };
    let count = events.len();
    let mut by_saga: BTreeMap<String, Vec<LoggedEvent>> = BTreeMap::new();
    for event in events {
        by_saga.entry(event.saga.clone()).or_default().push(event);
    }
    let mut tasks = JoinSet::new();
    for (_, events) in by_saga {
        let runtime = runtime.clone();
        tasks.spawn(async move {
            for event in events {
                publish(&runtime, event).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    // Everything up to `last` is committed by its instances: a restart resumes after it.
    world.set_meta("cursor", last).await?;
    Ok((last, count))
}

async fn publish(runtime: &Runtime, event: LoggedEvent) {
    let Ok(payload) = serde_json::from_str(&event.payload) else {
        eprintln!(
            "pm-demo: event {} has a malformed payload; skipped",
            event.event_id
        );
        return;
    };
    let Ok(event_id) = Uuid::parse_str(&event.event_id) else {
        eprintln!(
            "pm-demo: event id {} is not a UUID; skipped",
            event.event_id
        );
        return;
    };
    let mut envelope = EventEnvelope::from_json(event_id, event.event_type, payload);
    envelope.stream_id = Some(event.saga);
    envelope.position = u64::try_from(event.seq).ok();
    // The store may be busy for a moment (another process holds the file): try again.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match runtime.publish_envelope(envelope.clone()).await {
            Ok(_) => return,
            Err(pm_runtime::Error::Store { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => {
                // A refused or parked event is accounted for by the instance's status.
                eprintln!("pm-demo: {error}");
                return;
            }
        }
    }
}
