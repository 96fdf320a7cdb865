//! The event log: a table producers append to, and a reader that feeds it to the runtime.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_postgres::{AsyncMessage, GenericClient, NoTls};
use uuid::Uuid;

use super::PostgresStore;
use super::commit::to_json;
use crate::envelope::{EventEnvelope, Metadata};
use crate::error::{Error, StoreError};
use crate::runtime::Runtime;

/// The event log table, `pm_events`, in the store's schema: producers append, every node's
/// [`EventReader`] reads.
///
/// ```sql
/// CREATE TABLE pm_events (
///     seq            bigserial   PRIMARY KEY,   -- drawn at insert; NOT the read order
///     tx             bigint      NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
///     event_id       uuid        NOT NULL UNIQUE, -- a second append of an id is ignored
///     event_type     text        NOT NULL,      -- Event::NAME
///     stream_id      text,                      -- the aggregate; events of one stream
///                                               -- are handled in order
///     correlation_id text,
///     causation_id   uuid,
///     metadata       jsonb       NOT NULL DEFAULT '{}',
///     payload        jsonb       NOT NULL,      -- the event, as serde_json writes it
///     appended_at    timestamptz NOT NULL DEFAULT now()
/// );
/// ```
///
/// Append with plain `INSERT`s (leave `seq`, `tx` and `appended_at` to their defaults), in
/// the same transaction as the change that produced the events, or with
/// [`EventLog::append`]. Readers take rows in `(tx, seq)` order, and only rows whose
/// transaction is older than every transaction still running
/// (`tx < pg_snapshot_xmin(pg_current_snapshot())`): a sequence value drawn by a
/// transaction that commits after a later one is then never skipped, because no row of a
/// still-running transaction is read past. The price: a transaction left open anywhere in
/// the cluster holds every reader back until it ends. A statement-level trigger sends
/// `NOTIFY "<schema>.pm_events"` on every append, so readers wake at once.
#[derive(Debug, Clone, Copy)]
pub struct EventLog;

impl EventLog {
    /// Appends `events` in one statement on `client` (a connection or a transaction),
    /// ignoring any whose `event_id` is already in the log; returns how many were added.
    pub async fn append(
        client: &impl GenericClient,
        events: &[EventEnvelope],
    ) -> Result<u64, StoreError> {
        let mut ids = Vec::with_capacity(events.len());
        let mut types = Vec::with_capacity(events.len());
        let mut streams = Vec::with_capacity(events.len());
        let mut correlations = Vec::with_capacity(events.len());
        let mut causations = Vec::with_capacity(events.len());
        let mut metadata = Vec::with_capacity(events.len());
        let mut payloads = Vec::with_capacity(events.len());
        for e in events {
            let what = || format!("event `{}` ({})", e.event_type, e.event_id);
            ids.push(e.event_id);
            types.push(e.event_type.to_string());
            streams.push(e.stream_id.clone());
            correlations.push(e.correlation_id.clone());
            causations.push(e.causation_id);
            metadata.push(Value::Object(e.metadata.clone()));
            let payload = e.payload.to_json().map_err(|source| {
                StoreError::from(super::error::PostgresError::Json {
                    action: "encode",
                    what: what(),
                    source,
                })
            })?;
            payloads.push(to_json(what, &*payload)?);
        }
        let added = client
            .execute(
                "INSERT INTO pm_events (event_id, event_type, stream_id, correlation_id, \
                 causation_id, metadata, payload) \
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], \
                 $5::uuid[], $6::jsonb[], $7::jsonb[]) \
                 ON CONFLICT (event_id) DO NOTHING",
                &[
                    &ids,
                    &types,
                    &streams,
                    &correlations,
                    &causations,
                    &metadata,
                    &payloads,
                ],
            )
            .await?;
        Ok(added)
    }
}

/// Feeds the event log into a runtime, on every node.
///
/// Each node reads the whole log but its runtime delivers an event only to the instances
/// of partitions the node holds. Every lease row carries its partition's cursor, a
/// `(tx, seq)` position. A round reads from the lowest cursor this node holds, publishes the
/// batch (events of one stream in order, streams concurrently), waits until every instance
/// it reached has committed, and then moves the cursors of the partitions it held through
/// the whole round, in a statement fenced like a commit (`owner = me AND epoch = e`).
///
/// Cursors move after the batch's commits rather than inside each of them: a node that
/// dies between the two leaves the cursor behind, and the partition's next owner publishes
/// those events again. That is safe because instances deduplicate by event id in the same
/// transaction that records their handling, so the effect is exactly once; it costs one
/// re-read batch per takeover instead of a cursor write in every commit.
///
/// A `LISTEN` connection wakes the reader on every append; polling every
/// [`poll_interval`](Self::poll_interval) covers a lost connection. Claiming a partition
/// wakes it too.
pub struct EventReader {
    store: PostgresStore,
    runtime: Runtime,
    batch: i64,
    poll: Duration,
}

impl std::fmt::Debug for EventReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventReader")
            .field("batch", &self.batch)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

/// Store failures a publish is retried for before the round gives up (and starts over).
const PUBLISH_ATTEMPTS: u32 = 20;

impl EventReader {
    pub(super) fn new(store: PostgresStore, runtime: Runtime) -> Self {
        Self {
            store,
            runtime,
            batch: 1_000,
            poll: Duration::from_millis(500),
        }
    }

    /// Events read per round (default 1000).
    pub fn batch(mut self, events: usize) -> Self {
        self.batch = i64::try_from(events.max(1)).unwrap_or(i64::MAX);
        self
    }

    /// How often to look for events when no notification came (default 500 ms).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll = every;
        self
    }

    /// Runs the reader on its own task until the handle is aborted or the runtime shuts
    /// down.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(self) {
        let wake = Arc::new(Notify::new());
        let channel = format!("{}.pm_events", self.store.schema());
        let listener = AbortOnDrop(tokio::spawn(listen(
            self.store.inner.config.clone(),
            channel,
            Arc::clone(&wake),
        )));
        let mut ownership = self.store.inner.leases.subscribe();
        loop {
            match self.step().await {
                Ok(0) => {}
                Ok(_) => continue,
                Err(Error::Shutdown) => break,
                Err(Error::Store {
                    source: StoreError::Fenced { .. },
                    ..
                }) => continue,
                Err(error) => {
                    tracing::warn!(%error, "event log round failed; it is read again");
                }
            }
            tokio::select! {
                () = wake.notified() => {}
                _ = ownership.changed() => {}
                () = tokio::time::sleep(self.poll) => {}
            }
        }
        drop(listener);
    }

    /// One round: reads up to a batch of events after this node's lowest cursor, publishes
    /// them and moves the cursors. Returns how many events it read (0: nothing new, or no
    /// partition held).
    pub async fn step(&self) -> Result<usize, Error> {
        let store_error = |source: StoreError| Error::Store {
            pm: "*",
            process_id: "event log".into(),
            source,
        };
        let held = self.store.inner.leases.snapshot();
        if held.is_empty() {
            return Ok(0);
        }
        let node = self.store.node_id();
        let pms: Vec<&str> = held.iter().map(|h| h.0.as_str()).collect();
        let partitions: Vec<i32> = held.iter().map(|h| h.1).collect();
        let epochs: Vec<i64> = held.iter().map(|h| h.2).collect();
        let client =
            (self.store.inner.pool.get().await).map_err(|e| store_error(StoreError::from(e)))?;
        let from = client
            .query_opt(
                "SELECT l.cursor_tx, l.cursor_seq FROM pm_lease l \
                 JOIN unnest($1::text[], $2::int[], $3::bigint[]) AS o(pm, partition, epoch) \
                 ON l.pm = o.pm AND l.partition = o.partition AND l.epoch = o.epoch \
                 WHERE l.owner = $4 ORDER BY l.cursor_tx, l.cursor_seq LIMIT 1",
                &[&pms, &partitions, &epochs, &node],
            )
            .await
            .map_err(|e| store_error(e.into()))?;
        let Some(from) = from else {
            return Ok(0);
        };
        let (from_tx, from_seq): (i64, i64) = (from.get(0), from.get(1));
        let rows = client
            .query(
                "SELECT seq, tx, event_id, event_type, stream_id, correlation_id, causation_id, \
                 metadata, payload FROM pm_events \
                 WHERE (tx, seq) > ($1, $2) \
                 AND tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
                 ORDER BY tx, seq LIMIT $3",
                &[&from_tx, &from_seq, &self.batch],
            )
            .await
            .map_err(|e| store_error(e.into()))?;
        let Some(last) = rows.last() else {
            return Ok(0);
        };
        let (last_tx, last_seq): (i64, i64) = (last.get(1), last.get(0));
        let count = rows.len();
        let mut streams: BTreeMap<Option<String>, Vec<EventEnvelope>> = BTreeMap::new();
        for r in rows {
            let mut envelope =
                EventEnvelope::from_json(r.get::<_, Uuid>(2), r.get::<_, String>(3), r.get(8));
            envelope.stream_id = r.get(4);
            envelope.position = u64::try_from(r.get::<_, i64>(0)).ok();
            envelope.correlation_id = r.get(5);
            envelope.causation_id = r.get(6);
            if let Value::Object(metadata) = r.get::<_, Value>(7) {
                envelope.metadata = metadata;
            } else {
                envelope.metadata = Metadata::new();
            }
            streams
                .entry(envelope.stream_id.clone())
                .or_default()
                .push(envelope);
        }
        drop(client);
        let mut tasks = JoinSet::new();
        for (_, events) in streams {
            let runtime = self.runtime.clone();
            tasks.spawn(async move {
                for event in events {
                    publish(&runtime, event).await?;
                }
                Ok::<(), Error>(())
            });
        }
        let mut failed = None;
        while let Some(done) = tasks.join_next().await {
            if let Ok(Err(error)) = done {
                failed.get_or_insert(error);
            }
        }
        if let Some(error) = failed {
            // Cursors stay: the whole batch is read again (handled events are skipped).
            return Err(error);
        }
        let client =
            (self.store.inner.pool.get().await).map_err(|e| store_error(StoreError::from(e)))?;
        client
            .execute(
                "UPDATE pm_lease l SET cursor_tx = $5, cursor_seq = $6 \
                 FROM unnest($1::text[], $2::int[], $3::bigint[]) AS o(pm, partition, epoch) \
                 WHERE l.pm = o.pm AND l.partition = o.partition AND l.epoch = o.epoch \
                 AND l.owner = $4 AND l.expires_at > now() \
                 AND (l.cursor_tx, l.cursor_seq) < ($5, $6)",
                &[&pms, &partitions, &epochs, &node, &last_tx, &last_seq],
            )
            .await
            .map_err(|e| store_error(e.into()))?;
        Ok(count)
    }
}

/// Publishes one event, retrying store failures for a while. A fenced commit fails the
/// round at once, so no cursor moves past the event: when the lease is really lost the next
/// round no longer delivers to that partition (its new owner does, from its cursor); when it
/// only lapsed and the heartbeat renewed it, the next round delivers it again. Refusals and
/// handler failures are accounted for by the instance (parked), so they pass.
async fn publish(runtime: &Runtime, event: EventEnvelope) -> Result<(), Error> {
    let mut attempt = 0;
    loop {
        match runtime.publish_envelope(event.clone()).await {
            Ok(_) => return Ok(()),
            Err(
                error @ Error::Store {
                    source: StoreError::Fenced { .. },
                    ..
                },
            ) => return Err(error),
            Err(error @ Error::Store { .. }) => {
                attempt += 1;
                if attempt >= PUBLISH_ATTEMPTS {
                    return Err(error);
                }
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
            }
            Err(Error::Shutdown) => return Err(Error::Shutdown),
            Err(error) => {
                tracing::warn!(event_id = %event.event_id, %error, "event refused or failed");
                return Ok(());
            }
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Holds a `LISTEN` connection and turns its notifications into wake-ups, reconnecting
/// when it breaks (readers poll meanwhile).
async fn listen(config: tokio_postgres::Config, channel: String, wake: Arc<Notify>) {
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let drive = async {
                    loop {
                        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                            Some(Ok(AsyncMessage::Notification(_))) => wake.notify_one(),
                            Some(Ok(_)) => {}
                            Some(Err(error)) => {
                                tracing::debug!(%error, "event log listener lost its connection");
                                break;
                            }
                            None => break,
                        }
                    }
                };
                // The channel name is "<schema>.pm_events"; the schema is a checked identifier.
                let subscribe = async {
                    if let Err(error) = client.batch_execute(&format!("LISTEN \"{channel}\"")).await
                    {
                        tracing::debug!(%error, "event log listener cannot LISTEN");
                    }
                    // Anything appended before LISTEN took effect is found by this read.
                    wake.notify_one();
                };
                tokio::join!(drive, subscribe);
            }
            Err(error) => tracing::debug!(%error, "event log listener cannot connect"),
        }
        wake.notify_one();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
