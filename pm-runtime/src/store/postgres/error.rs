//! The PostgreSQL backend's own errors, boxed into [`StoreError`] at the trait boundary.

use crate::error::StoreError;

/// A failure while the store runs.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PostgresError {
    /// The server refused a statement or the connection broke.
    #[error("postgres: {0}")]
    Sql(#[from] tokio_postgres::Error),
    /// No connection could be had from the pool (the server is unreachable).
    #[error("postgres connection pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A value would not serialise, or a stored one would not read back.
    #[error("cannot {action} {what}: {source}")]
    Json {
        action: &'static str,
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// A number does not fit PostgreSQL's signed integers.
    #[error("{what} is {value}, above the largest value the store keeps")]
    OutOfRange { what: &'static str, value: u64 },
    /// A stored word that no build wrote.
    #[error("stored {what} `{value}` is not one this build knows")]
    Unknown { what: &'static str, value: String },
}

impl From<PostgresError> for StoreError {
    fn from(error: PostgresError) -> Self {
        StoreError::Backend(Box::new(error))
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        PostgresError::Sql(error).into()
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        PostgresError::Pool(error).into()
    }
}

/// Why the store could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    /// The URL does not parse as a PostgreSQL connection string.
    #[error("not a PostgreSQL connection URL: {0}")]
    Url(#[source] tokio_postgres::Error),
    /// The schema name cannot be used as an identifier.
    #[error(
        "schema name `{0}` is not a plain identifier: use 1 to 63 lowercase ASCII letters, digits and `_`, not starting with a digit"
    )]
    Schema(String),
    /// The partition count is not a power of two in range.
    #[error("the partition count must be a power of two from 1 to 65536, not {0}")]
    Partitions(u32),
    /// The lease settings cannot work: the heartbeat must renew well inside the lease.
    #[error(
        "the heartbeat ({heartbeat_ms} ms) must be shorter than half the lease ttl ({ttl_ms} ms)"
    )]
    Lease { heartbeat_ms: u128, ttl_ms: u128 },
    /// The database already runs with another partition count.
    #[error(
        "the database's schema uses {stored} partitions per process manager, this node asks for {asked}; every node must use the same count"
    )]
    PartitionMismatch { stored: i64, asked: u32 },
    /// Written by a newer build.
    #[error(
        "the database has schema version {found}, newer than version {supported} that this build knows"
    )]
    NewerSchema { found: i32, supported: i32 },
    /// Inspection found no pm-runtime schema of that name.
    #[error(
        "the database has no pm-runtime schema `{0}` (is the name right? a runtime creates it when it first connects)"
    )]
    NoSchema(String),
    /// Inspection found a `pm_schema` table that is not the one this build writes.
    #[error("schema `{schema}` is not a pm-runtime schema: {why}")]
    NotOurs { schema: String, why: String },
    /// Inspection found a schema an older build wrote; only a runtime migrates.
    #[error(
        "the database has schema version {found}, older than version {supported} of this build; start a runtime of this build once to migrate it, then inspect"
    )]
    OlderSchema { found: i32, supported: i32 },
    /// Inspection: the server did not answer in time.
    #[error(
        "the server did not answer within {seconds} s (set `connect_timeout` in the URL to wait longer)"
    )]
    NoAnswer { seconds: f64 },
    /// The first heartbeat failed.
    #[error("cannot take partition leases: {0}")]
    Leases(#[source] StoreError),
    /// The pool could not be built.
    #[error("cannot build the connection pool: {0}")]
    Build(#[from] deadpool_postgres::BuildError),
    /// Anything else while connecting or migrating.
    #[error(transparent)]
    Run(#[from] PostgresError),
}

impl From<tokio_postgres::Error> for OpenError {
    fn from(error: tokio_postgres::Error) -> Self {
        OpenError::Run(PostgresError::Sql(error))
    }
}

impl From<deadpool_postgres::PoolError> for OpenError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        OpenError::Run(PostgresError::Pool(error))
    }
}

impl OpenError {
    /// Attaches the (password-free) address the store was opened at.
    pub(crate) fn at(self, shown: &str) -> StoreError {
        StoreError::Open {
            path: shown.into(),
            reason: Box::new(self),
        }
    }
}
