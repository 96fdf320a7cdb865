//! Creating and migrating the store's tables in its schema, once per database, safely when
//! several nodes start at the same moment.

use deadpool_postgres::Client;

use super::error::OpenError;

/// The migrations, oldest first; migration `i` brings the schema to version `i + 1`.
/// A released migration is never edited: a change is a new migration.
const MIGRATIONS: &[&str] = &[V1];

/// The schema version this build writes.
const LATEST: i32 = MIGRATIONS.len() as i32;

// `pm_instance` keeps an instance in one row: the outbox, the completed log and the stash are
// JSON arrays in order, the handled event ids an array. Timers have their own table because
// the timer wheel reads them across instances, earliest first.
//
// `pm_lease` has one row per (process manager, partition): the node holding it, the epoch
// that every claim raises (commits carry it and are refused once it moved on), the expiry by
// the database's clock, and the event-log cursor of the partition.
//
// `pm_events` is the event log producers append to (see `EventLog`). `tx` is the id of the
// inserting transaction, filled in by default: readers only take rows whose transaction is
// older than every transaction still running, in (tx, seq) order, so a row whose sequence
// value was drawn early but committed late is never skipped.
const V1: &str = r#"
CREATE TABLE pm_setting (
    key   text   PRIMARY KEY,
    value bigint NOT NULL
);
CREATE TABLE pm_instance (
    pm            text    NOT NULL,
    process_id    text    NOT NULL,
    partition     integer NOT NULL,
    status        text    NOT NULL,
    revision      bigint  NOT NULL,
    state         bytea   NOT NULL,
    state_version integer NOT NULL,
    updated_at_ms bigint  NOT NULL,
    handled       uuid[]  NOT NULL,
    outbox        jsonb   NOT NULL,
    completed     jsonb   NOT NULL,
    stash         jsonb   NOT NULL,
    dead_letter   jsonb,
    PRIMARY KEY (pm, process_id)
);
CREATE TABLE pm_timer (
    seq        bigserial PRIMARY KEY,
    pm         text   NOT NULL,
    process_id text   NOT NULL,
    timer_id   uuid   NOT NULL,
    due_at_ms  bigint NOT NULL,
    event      jsonb  NOT NULL
);
CREATE INDEX pm_timer_instance ON pm_timer (pm, process_id);
CREATE INDEX pm_timer_due ON pm_timer (due_at_ms, timer_id);
CREATE TABLE pm_type (
    name    text    PRIMARY KEY,
    version integer NOT NULL,
    diagram text    NOT NULL,
    events  jsonb   NOT NULL
);
CREATE TABLE pm_node (
    node_id      text        PRIMARY KEY,
    heartbeat_at timestamptz NOT NULL
);
CREATE TABLE pm_lease (
    pm         text        NOT NULL,
    partition  integer     NOT NULL,
    owner      text,
    epoch      bigint      NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL DEFAULT '-infinity',
    cursor_tx  bigint      NOT NULL DEFAULT 0,
    cursor_seq bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (pm, partition)
);
CREATE TABLE pm_events (
    seq            bigserial   PRIMARY KEY,
    tx             bigint      NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    event_id       uuid        NOT NULL UNIQUE,
    event_type     text        NOT NULL,
    stream_id      text,
    correlation_id text,
    causation_id   uuid,
    metadata       jsonb       NOT NULL DEFAULT '{}',
    payload        jsonb       NOT NULL,
    appended_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pm_events_order ON pm_events (tx, seq);
CREATE FUNCTION pm_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '.pm_events', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER pm_events_notify AFTER INSERT ON pm_events
    FOR EACH STATEMENT EXECUTE FUNCTION pm_events_notify();
"#;

/// Whether `schema` can be spliced into DDL as an identifier: the one value no statement
/// can take as a parameter, so it is checked instead.
pub(crate) fn valid_schema(schema: &str) -> bool {
    let mut chars = schema.chars();
    schema.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Creates the schema and brings its tables to [`LATEST`], under an advisory lock so that
/// nodes starting together migrate once; a no-op on an up-to-date schema. Records the
/// partition count on first start and refuses a node that asks for another.
pub(crate) async fn migrate(
    client: &mut Client,
    schema: &str,
    partitions: u32,
) -> Result<(), OpenError> {
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('pm_runtime.migrate'), hashtext($1))",
        &[&schema],
    )
    .await?;
    // `schema` passed `valid_schema`, so quoting it is enough.
    tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
        .await?;
    let exists: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'pm_schema')",
            &[&schema],
        )
        .await?
        .get(0);
    if !exists {
        tx.batch_execute(
            "CREATE TABLE pm_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL);
             INSERT INTO pm_schema (id, version) VALUES (1, 0);",
        )
        .await?;
    }
    let version: i32 = tx
        .query_one("SELECT version FROM pm_schema", &[])
        .await?
        .get(0);
    if version > LATEST {
        return Err(OpenError::NewerSchema {
            found: version,
            supported: LATEST,
        });
    }
    for migration in &MIGRATIONS[usize::try_from(version).unwrap_or(0)..] {
        tx.batch_execute(migration).await?;
    }
    if version < LATEST {
        tx.execute("UPDATE pm_schema SET version = $1", &[&LATEST])
            .await?;
    }
    tx.execute(
        "INSERT INTO pm_setting (key, value) VALUES ('partitions', $1) ON CONFLICT (key) DO NOTHING",
        &[&i64::from(partitions)],
    )
    .await?;
    let stored: i64 = tx
        .query_one("SELECT value FROM pm_setting WHERE key = 'partitions'", &[])
        .await?
        .get(0);
    if stored != i64::from(partitions) {
        return Err(OpenError::PartitionMismatch {
            stored,
            asked: partitions,
        });
    }
    tx.commit().await?;
    Ok(())
}

/// The tables [`V1`] creates besides `pm_schema`: what an inspector expects to find.
const TABLES: &[&str] = &[
    "pm_setting",
    "pm_instance",
    "pm_timer",
    "pm_type",
    "pm_node",
    "pm_lease",
    "pm_events",
];

/// For inspection: checks that `schema` holds this build's tables, without creating or
/// migrating anything (an inspector must leave the database as it found it), and returns
/// the partition count the nodes use.
pub(crate) async fn check(client: &Client, schema: &str) -> Result<u32, OpenError> {
    let present: Vec<String> = client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = $1",
            &[&schema],
        )
        .await?
        .into_iter()
        .map(|row| row.get(0))
        .collect();
    if !present.iter().any(|t| t == "pm_schema") {
        return Err(OpenError::NoSchema(schema.to_owned()));
    }
    let not_ours = |why: String| OpenError::NotOurs {
        schema: schema.to_owned(),
        why,
    };
    // Another application's `pm_schema` may lack the column or the row: that is a schema
    // that is not ours, not a failure of the server.
    let version: Option<i32> = match client
        .query_opt("SELECT version FROM pm_schema WHERE id = 1", &[])
        .await
    {
        Ok(row) => row.map(|r| r.try_get(0)).transpose().ok().flatten(),
        Err(e) if is_undefined(&e) => None,
        Err(e) => return Err(e.into()),
    };
    let Some(version) = version else {
        return Err(not_ours(
            "its `pm_schema` table holds no pm-runtime version".into(),
        ));
    };
    if version > LATEST {
        return Err(OpenError::NewerSchema {
            found: version,
            supported: LATEST,
        });
    }
    if version < LATEST {
        return Err(OpenError::OlderSchema {
            found: version,
            supported: LATEST,
        });
    }
    let missing: Vec<&str> = (TABLES.iter().copied())
        .filter(|t| !present.iter().any(|p| p == t))
        .collect();
    if !missing.is_empty() {
        return Err(not_ours(format!(
            "table(s) {} are missing",
            missing.join(", ")
        )));
    }
    let partitions: Option<i64> = client
        .query_opt("SELECT value FROM pm_setting WHERE key = 'partitions'", &[])
        .await?
        .map(|r| r.get(0));
    // A count a runtime could not have written would make every partition lookup wrong.
    match partitions.and_then(|p| u32::try_from(p).ok()) {
        Some(p) if p.is_power_of_two() && p <= 65_536 => Ok(p),
        _ => Err(not_ours(format!(
            "its partition count setting is {}",
            partitions.map_or_else(|| "missing".to_owned(), |p| p.to_string())
        ))),
    }
}

/// Whether `e` says a table or column does not exist (SQLSTATE 42P01 or 42703).
fn is_undefined(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.code()
        .is_some_and(|c| *c == SqlState::UNDEFINED_TABLE || *c == SqlState::UNDEFINED_COLUMN)
}

#[cfg(test)]
mod tests {
    use super::valid_schema;

    #[test]
    fn only_plain_identifiers_are_schema_names() {
        for good in ["public", "pm_test_1a", "_x"] {
            assert!(valid_schema(good), "{good}");
        }
        for bad in ["", "1a", "Pm", "a-b", "a\"b", "a;drop", &"a".repeat(64)] {
            assert!(!valid_schema(bad), "{bad}");
        }
    }
}
