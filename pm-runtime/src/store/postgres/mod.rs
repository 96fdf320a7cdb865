//! The PostgreSQL store: many runtime nodes on one database.
//!
//! Each process manager's instances fall into `P` virtual partitions ([`partition_of`]);
//! nodes share them out through lease rows (see `lease`), and every commit is one
//! transaction fenced by its partition's lease. An event log table with a reader
//! ([`EventLog`], [`EventReader`]) feeds every node from one ordered source.

mod commit;
mod error;
mod lease;
mod queries;
mod schema;
mod source;

use std::sync::{Arc, Weak};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::watch;
use tokio_postgres::NoTls;

use self::commit::{Fence, Refused};
use self::error::OpenError;
use self::lease::Leases;
pub use self::lease::partition_of;
pub use self::source::{EventLog, EventReader};
use super::{
    Commit, DueTimer, InstanceSummary, ParkedAction, ProcessManagerInfo, Store, StoreFuture,
    StoredInstance,
};
use crate::error::StoreError;
use crate::ids::ProcessId;

/// Settings for [`PostgresStore::connect`]. Every node on one schema must use the same
/// `partitions`; the lease settings may differ per node but rarely should.
///
/// ```
/// use std::time::Duration;
/// use pm_runtime::PostgresOptions;
///
/// let options = PostgresOptions {
///     schema: "sagas".into(),
///     node_id: "node-a".into(),
///     lease_ttl: Duration::from_secs(5),
///     heartbeat: Duration::from_secs(1),
///     ..PostgresOptions::default()
/// };
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// The schema holding the store's tables, created when missing. A plain lowercase
    /// identifier. Default: `public`.
    pub schema: String,
    /// This node's name in the lease table; unique per live node. Default: `node-` and a
    /// random UUID.
    pub node_id: String,
    /// Partitions per process manager: a power of two, fixed for the life of the schema.
    /// Default: 256.
    pub partitions: u32,
    /// How long a lease lasts without renewal: how long a crashed node's partitions wait
    /// before another node takes them. Default: 10 s.
    pub lease_ttl: Duration,
    /// How often the node renews its leases and rebalances; under half of `lease_ttl`.
    /// Default: 2 s.
    pub heartbeat: Duration,
    /// Connections in the pool. Default: 16.
    pub pool_size: usize,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            schema: "public".into(),
            node_id: format!("node-{}", uuid::Uuid::new_v4()),
            partitions: 256,
            lease_ttl: Duration::from_secs(10),
            heartbeat: Duration::from_secs(2),
            pool_size: 16,
        }
    }
}

/// How long [`PostgresStore::inspect`] waits for the server when the URL sets no
/// `connect_timeout`.
const INSPECT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A durable [`Store`] in PostgreSQL, shared by any number of runtime nodes.
///
/// ```no_run
/// use pm_runtime::{PostgresOptions, PostgresStore};
///
/// # async fn start() -> Result<(), pm_runtime::StoreError> {
/// let store =
///     PostgresStore::connect("postgres://app@db:5432/app", PostgresOptions::default()).await?;
/// # let _ = store;
/// # Ok(())
/// # }
/// ```
///
/// Connecting creates the schema and its tables when missing and migrates older ones (once,
/// under an advisory lock, however many nodes start together), then starts a heartbeat
/// task that keeps this node's leases. A node alone claims every partition of a process
/// manager when the runtime registers it; with others it takes `ceil(P / live nodes)` and
/// gives back any surplus. A commit to a partition this node does not hold fails with
/// [`StoreError::Fenced`] and writes nothing. A process manager no runtime registered (the
/// store used directly) claims a free or expired partition at its first commit.
///
/// Connections come from a pool that replaces broken ones, so a restarted server is
/// reconnected to by the next operation. Only `NoTls` connections are supported. The
/// password in the URL is never logged nor put in an error. Cloning is cheap: clones share
/// the pool and the leases.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// For the event reader's dedicated LISTEN connection.
    config: tokio_postgres::Config,
    options: PostgresOptions,
    leases: Leases,
    /// The address without the password, for errors and logs.
    shown: String,
    /// Opened by [`PostgresStore::inspect`]: reads only, holds no lease.
    inspecting: bool,
    /// Dropped with the store: stops the heartbeat.
    _stop: watch::Sender<()>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("at", &self.inner.shown)
            .field("schema", &self.inner.options.schema)
            .field("node_id", &self.inner.options.node_id)
            .finish_non_exhaustive()
    }
}

/// `url` without its password: `postgres://user@host:port/db`.
fn redact(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db` or the
    /// `key=value` form), creates or migrates the schema, and starts the heartbeat. Must be
    /// called within a tokio runtime.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = match url.parse() {
            Ok(config) => config,
            // The URL may hold a password: name no part of it.
            Err(e) => return Err(OpenError::Url(e).at("<the given url>")),
        };
        let shown = redact(&config);
        Self::start(config, options, &shown)
            .await
            .map_err(|e| e.at(&shown))
    }

    async fn start(
        mut config: tokio_postgres::Config,
        options: PostgresOptions,
        shown: &str,
    ) -> Result<Self, OpenError> {
        if !schema::valid_schema(&options.schema) {
            return Err(OpenError::Schema(options.schema));
        }
        if !options.partitions.is_power_of_two() || options.partitions > 65_536 {
            return Err(OpenError::Partitions(options.partitions));
        }
        if options.heartbeat * 2 >= options.lease_ttl {
            return Err(OpenError::Lease {
                heartbeat_ms: options.heartbeat.as_millis(),
                ttl_ms: options.lease_ttl.as_millis(),
            });
        }
        config.options(format!("-c search_path={}", options.schema));
        if config.get_application_name().is_none() {
            config.application_name("pm-runtime");
        }
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(2))
            .build()?;
        let mut client = pool.get().await?;
        schema::migrate(&mut client, &options.schema, options.partitions).await?;
        let leases = Leases::new(
            options.node_id.clone(),
            options.partitions,
            options.lease_ttl,
        );
        leases
            .heartbeat(&**client)
            .await
            .map_err(OpenError::Leases)?;
        drop(client);
        let (stop, stopped) = watch::channel(());
        let inner = Arc::new(Inner {
            pool,
            config,
            leases,
            shown: shown.to_owned(),
            inspecting: false,
            _stop: stop,
            options,
        });
        tokio::spawn(heartbeat(Arc::downgrade(&inner), stopped));
        tracing::info!(at = %shown, schema = %inner.options.schema,
                       node = %inner.options.node_id, "postgres store connected");
        Ok(Self { inner })
    }

    /// Opens the store at `url` to inspect `schema`, as the `pm` inspector does: it joins no
    /// node set, takes and renews no lease, and neither creates nor migrates the schema, so
    /// the live runtime nodes do not see it and keep their fair share of the partitions.
    ///
    /// Reads work: [`Store::load`], [`Store::instances`], [`Store::unfinished`],
    /// [`Store::due_timers`] and [`Store::process_managers`]. So does
    /// [`Store::resolve_parked`], an offline operator action with the same semantics as on
    /// SQLite: it is not fenced, so use it on an instance no runtime is running (a live
    /// runtime holds its instances in memory: use `Runtime::retry_parked`/`skip_parked`
    /// there). What would change ownership or write state as a node — [`Store::commit`],
    /// [`Store::register`], [`Store::purge_finished`], [`PostgresStore::rebalance`],
    /// [`PostgresStore::release`] — fails with [`StoreError::ReadOnly`]. The store owns no
    /// partition ([`Store::owns`] is `false`), so an event reader on it reads nothing.
    ///
    /// Fails with [`StoreError::Open`] when the URL does not parse, the server cannot be
    /// reached or does not answer (within 10 s unless the URL sets `connect_timeout`), or
    /// the schema is missing, not a pm-runtime schema, or of another version than this
    /// build's; the message names the address without its password.
    ///
    /// ```no_run
    /// use pm_runtime::{PostgresStore, Store};
    ///
    /// # async fn look() -> Result<(), pm_runtime::StoreError> {
    /// let store = PostgresStore::inspect("postgres://ops@db:5432/app", "sagas").await?;
    /// for pm in store.process_managers().await? {
    ///     println!("{}: {} instances", pm.name, store.instances(&pm.name).await?.len());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn inspect(url: &str, schema: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = match url.parse() {
            Ok(config) => config,
            Err(e) => return Err(OpenError::Url(e).at("<the given url>")),
        };
        let shown = redact(&config);
        Self::open_for_inspection(config, schema, &shown)
            .await
            .map_err(|e| e.at(&shown))
    }

    async fn open_for_inspection(
        mut config: tokio_postgres::Config,
        schema: &str,
        shown: &str,
    ) -> Result<Self, OpenError> {
        if !schema::valid_schema(schema) {
            return Err(OpenError::Schema(schema.to_owned()));
        }
        config.options(format!("-c search_path={schema}"));
        if config.get_application_name().is_none() {
            config.application_name("pm-inspect");
        }
        // An operator at a terminal: a server that drops packets or never answers should
        // fail in seconds, not hang (the URL's `connect_timeout` wins when given).
        // `connect_timeout` only bounds the TCP connect, so the whole first exchange is
        // bounded below as well.
        let wait = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(INSPECT_CONNECT_TIMEOUT);
        config.connect_timeout(wait);
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager).max_size(2).build()?;
        let first = async {
            let client = pool.get().await?;
            schema::check(&client, schema).await
        };
        let partitions =
            tokio::time::timeout(wait, first)
                .await
                .map_err(|_| OpenError::NoAnswer {
                    seconds: wait.as_secs_f64(),
                })??;
        let options = PostgresOptions {
            schema: schema.to_owned(),
            node_id: format!("inspector-{}", uuid::Uuid::new_v4()),
            partitions,
            ..PostgresOptions::default()
        };
        let leases = Leases::new(
            options.node_id.clone(),
            options.partitions,
            options.lease_ttl,
        );
        let (stop, _) = watch::channel(());
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                config,
                leases,
                shown: shown.to_owned(),
                inspecting: true,
                _stop: stop,
                options,
            }),
        })
    }

    /// Refuses `operation` on a store opened by [`PostgresStore::inspect`].
    fn writable(&self, operation: &'static str) -> Result<(), StoreError> {
        if self.inner.inspecting {
            return Err(StoreError::ReadOnly { operation });
        }
        Ok(())
    }

    /// This node's id in the lease table.
    pub fn node_id(&self) -> &str {
        &self.inner.options.node_id
    }

    /// The schema the store's tables live in.
    pub fn schema(&self) -> &str {
        &self.inner.options.schema
    }

    /// Partitions per process manager.
    pub fn partitions(&self) -> u32 {
        self.inner.options.partitions
    }

    /// The partitions of `pm` this node holds now, in order.
    pub fn owned_partitions(&self, pm: &str) -> Vec<u32> {
        let mut owned: Vec<u32> = (self.inner.leases.snapshot().into_iter())
            .filter(|(p, _, _)| p == pm)
            .map(|(_, partition, _)| partition as u32)
            .collect();
        owned.sort_unstable();
        owned
    }

    /// Runs one heartbeat now: renews this node's leases, claims its fair share, releases
    /// any surplus. The background task does this every [`PostgresOptions::heartbeat`].
    pub async fn rebalance(&self) -> Result<(), StoreError> {
        self.writable("take partition leases")?;
        let client = self.inner.pool.get().await?;
        self.inner.leases.heartbeat(&**client).await
    }

    /// Gives back every lease and leaves the live set, so other nodes take this node's
    /// partitions at their next heartbeat rather than after the lease expires. Call it on an
    /// orderly shutdown, after the runtime's; later commits through this store are fenced.
    pub async fn release(&self) -> Result<(), StoreError> {
        self.writable("release partition leases")?;
        let client = self.inner.pool.get().await?;
        self.inner.leases.release_all(&**client).await
    }

    /// A reader that feeds the event log (`pm_events`) into `runtime`; see [`EventReader`].
    pub fn event_reader(&self, runtime: crate::Runtime) -> EventReader {
        EventReader::new(self.clone(), runtime)
    }

    /// The epoch this node holds `(pm, partition)` at, claiming it first when `pm` is not
    /// balanced by the heartbeat and the partition is free.
    async fn lease(&self, pm: &str, partition: u32) -> Result<Option<i64>, StoreError> {
        let leases = &self.inner.leases;
        if let Some(epoch) = leases.epoch(pm, partition) {
            return Ok(Some(epoch));
        }
        if leases.is_managed(pm) {
            return Ok(None);
        }
        let _claiming = leases.claiming.lock().await;
        if let Some(epoch) = leases.epoch(pm, partition) {
            return Ok(Some(epoch));
        }
        let client = self.inner.pool.get().await?;
        leases.claim_one(&**client, pm, partition).await
    }
}

/// Keeps this node's leases until the store is dropped. A failed beat is retried at the next
/// tick; the leases last `lease_ttl`, so a few failures in a row lose nothing.
async fn heartbeat(inner: Weak<Inner>, mut stopped: watch::Receiver<()>) {
    let every = match inner.upgrade() {
        Some(inner) => inner.options.heartbeat,
        None => return,
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return,
        }
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let beat = async {
            let client = inner.pool.get().await?;
            inner.leases.heartbeat(&**client).await
        };
        if let Err(error) = beat.await {
            tracing::warn!(node = %inner.options.node_id, %error, "lease heartbeat failed; retrying");
        }
    }
}

impl Store for PostgresStore {
    fn load<'a>(
        &'a self,
        pm: &'a str,
        process_id: &'a ProcessId,
    ) -> StoreFuture<'a, Option<StoredInstance>> {
        Box::pin(async move {
            let client = self.inner.pool.get().await?;
            commit::load(&client, pm, process_id).await
        })
    }

    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.writable("commit")?;
            let pm = commit.pm;
            let process_id = commit.process_id.clone();
            let partition = partition_of(pm, process_id.as_str(), self.inner.leases.partitions);
            let fenced = || StoreError::Fenced {
                pm: pm.to_owned(),
                process_id: process_id.clone(),
                partition,
            };
            let Some(epoch) = self.lease(pm, partition).await? else {
                return Err(fenced());
            };
            let mut client = self.inner.pool.get().await?;
            let fence = Fence {
                partition,
                node: &self.inner.options.node_id,
                epoch,
            };
            match commit::apply(&mut client, commit, fence).await {
                Ok(()) => Ok(()),
                Err(Refused::Fenced) => {
                    self.inner.leases.forget(pm, partition, epoch);
                    Err(fenced())
                }
                Err(Refused::Store(error)) => Err(error),
            }
        })
    }

    fn due_timers(&self, until_ms: u64, limit: usize) -> StoreFuture<'_, Vec<DueTimer>> {
        Box::pin(async move {
            let client = self.inner.pool.get().await?;
            queries::due_timers(&**client, until_ms, limit).await
        })
    }

    fn unfinished(&self, pm: &str) -> StoreFuture<'_, Vec<ProcessId>> {
        let pm = pm.to_owned();
        Box::pin(async move {
            let client = self.inner.pool.get().await?;
            queries::unfinished(&**client, &pm).await
        })
    }

    fn instances(&self, pm: &str) -> StoreFuture<'_, Vec<InstanceSummary>> {
        let pm = pm.to_owned();
        Box::pin(async move {
            let client = self.inner.pool.get().await?;
            queries::instances(&**client, &pm).await
        })
    }

    fn purge_finished(&self, pm: &str, before_ms: u64) -> StoreFuture<'_, u64> {
        let pm = pm.to_owned();
        Box::pin(async move {
            self.writable("purge finished instances")?;
            let mut client = self.inner.pool.get().await?;
            queries::purge_finished(&mut client, &pm, before_ms).await
        })
    }

    fn is_durable(&self) -> bool {
        true
    }

    fn register(&self, info: &ProcessManagerInfo) -> StoreFuture<'_, ()> {
        let info = info.clone();
        Box::pin(async move {
            self.writable("register a process manager")?;
            let client = self.inner.pool.get().await?;
            queries::register(&**client, &info).await?;
            self.inner.leases.manage(&**client, &info.name).await
        })
    }

    fn process_managers(&self) -> StoreFuture<'_, Vec<ProcessManagerInfo>> {
        Box::pin(async move {
            let client = self.inner.pool.get().await?;
            queries::process_managers(&**client).await
        })
    }

    fn resolve_parked<'a>(
        &'a self,
        pm: &'a str,
        process_id: &'a ProcessId,
        action: ParkedAction,
        at_ms: u64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut client = self.inner.pool.get().await?;
            commit::resolve_parked(&mut client, pm, process_id, action, at_ms).await
        })
    }

    fn owns(&self, pm: &str, process_id: &ProcessId) -> bool {
        let partition = partition_of(pm, process_id.as_str(), self.inner.leases.partitions);
        self.inner.leases.epoch(pm, partition).is_some()
    }

    fn ownership(&self) -> Option<watch::Receiver<u64>> {
        // An inspecting store owns nothing and never will.
        (!self.inner.inspecting).then(|| self.inner.leases.subscribe())
    }
}
