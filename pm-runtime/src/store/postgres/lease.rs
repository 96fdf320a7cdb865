//! Partitions and their leases: which node handles which instances.
//!
//! Every process manager's instances fall into `P` virtual partitions by [`partition_of`].
//! A node handles a partition while it holds its lease row in `pm_lease`: `owner` is the
//! node, `expires_at` (by the database's clock) is renewed by the node's heartbeat, and
//! `epoch` rises with every claim. Each commit first touches its partition's row
//! `WHERE owner = me AND epoch = e AND expires_at > now()` and rolls back when no row
//! matches, so a node that lost a lease, however late it notices, commits nothing.

use std::collections::{BTreeSet, HashMap};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio_postgres::GenericClient;

use crate::error::StoreError;

/// The partition of instance `process_id` of process manager `pm`, among `partitions` (a
/// power of two): the low bits of a 64-bit FNV-1a hash.
///
/// The hash runs over the bytes of `len(pm) ‖ pm ‖ process_id`, where `len(pm)` is the
/// length of `pm` in bytes as a little-endian `u64` (so that `("ab", "c")` and `("a", "bc")`
/// differ), with FNV-1a's 64-bit offset basis `0xcbf29ce484222325` and prime
/// `0x100000001b3`; the partition is `hash & (partitions - 1)`. It is part of the stored
/// format: every node and every build must agree on it, so it never changes (and never uses
/// `DefaultHasher`, whose output may change between Rust releases).
///
/// ```
/// use pm_runtime::partition_of;
///
/// assert_eq!(partition_of("order_fulfillment", "o-1", 256), 160);
/// assert_eq!(partition_of("order_fulfillment", "o-1", 1), 0);
/// ```
pub fn partition_of(pm: &str, process_id: &str, partitions: u32) -> u32 {
    let hash = fnv1a(pm, process_id);
    (hash & u64::from(partitions.max(1) - 1)) as u32
}

fn fnv1a(pm: &str, process_id: &str) -> u64 {
    let len = (pm.len() as u64).to_le_bytes();
    len.iter()
        .chain(pm.as_bytes())
        .chain(process_id.as_bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// The leases this node holds, by process manager then partition, with their epochs.
type Owned = HashMap<String, HashMap<u32, i64>>;

/// This node's view of its leases, and the work of keeping them.
#[derive(Debug)]
pub(crate) struct Leases {
    pub(crate) node: String,
    pub(crate) partitions: u32,
    ttl_ms: i64,
    owned: RwLock<Owned>,
    /// Process managers a runtime registered: the heartbeat balances their partitions.
    /// Others (a store used directly) claim a partition when they first commit to it.
    managed: RwLock<BTreeSet<String>>,
    /// Process managers whose lease rows are known to exist.
    seeded: RwLock<BTreeSet<String>>,
    /// Serialises claims from this node, so two commits never both claim (and so fence
    /// each other out of) one partition.
    pub(crate) claiming: tokio::sync::Mutex<()>,
    changed: watch::Sender<u64>,
}

impl Leases {
    pub(crate) fn new(node: String, partitions: u32, ttl: Duration) -> Self {
        Self {
            node,
            partitions,
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
            owned: RwLock::default(),
            managed: RwLock::default(),
            seeded: RwLock::default(),
            claiming: tokio::sync::Mutex::new(()),
            changed: watch::channel(0).0,
        }
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Owned> {
        self.owned.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Owned> {
        self.owned.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The epoch of the lease this node holds on `(pm, partition)`.
    pub(crate) fn epoch(&self, pm: &str, partition: u32) -> Option<i64> {
        self.read().get(pm)?.get(&partition).copied()
    }

    pub(crate) fn is_managed(&self, pm: &str) -> bool {
        (self.managed.read().unwrap_or_else(PoisonError::into_inner)).contains(pm)
    }

    /// Every lease held, as `(pm, partition, epoch)`.
    pub(crate) fn snapshot(&self) -> Vec<(String, i32, i64)> {
        let owned = self.read();
        let mut all = Vec::new();
        for (pm, partitions) in owned.iter() {
            for (partition, epoch) in partitions {
                all.push((pm.clone(), *partition as i32, *epoch));
            }
        }
        all
    }

    /// Forgets a lease the database says is gone (a commit was fenced).
    pub(crate) fn forget(&self, pm: &str, partition: u32, epoch: i64) {
        let mut owned = self.write();
        if let Some(of_pm) = owned.get_mut(pm)
            && of_pm.get(&partition) == Some(&epoch)
        {
            of_pm.remove(&partition);
        }
    }

    fn gain(&self, pm: &str, claimed: impl IntoIterator<Item = (u32, i64)>) {
        let mut any = false;
        {
            let mut owned = self.write();
            let of_pm = owned.entry(pm.to_owned()).or_default();
            for (partition, epoch) in claimed {
                of_pm.insert(partition, epoch);
                any = true;
            }
        }
        if any {
            self.changed.send_modify(|n| *n += 1);
        }
    }

    /// Creates the lease rows of `pm` once.
    async fn seed(&self, client: &impl GenericClient, pm: &str) -> Result<(), StoreError> {
        if (self.seeded.read().unwrap_or_else(PoisonError::into_inner)).contains(pm) {
            return Ok(());
        }
        client
            .execute(
                "INSERT INTO pm_lease (pm, partition) \
                 SELECT $1, g FROM generate_series(0, $2 - 1) AS g ON CONFLICT DO NOTHING",
                &[&pm, &(self.partitions as i32)],
            )
            .await?;
        (self.seeded.write().unwrap_or_else(PoisonError::into_inner)).insert(pm.to_owned());
        Ok(())
    }

    /// Marks `pm` as balanced by the heartbeat, and claims its fair share now, so a node
    /// alone starts with every partition without waiting for a heartbeat.
    pub(crate) async fn manage(
        &self,
        client: &impl GenericClient,
        pm: &str,
    ) -> Result<(), StoreError> {
        self.seed(client, pm).await?;
        (self.managed.write().unwrap_or_else(PoisonError::into_inner)).insert(pm.to_owned());
        self.heartbeat(client).await
    }

    /// Claims one partition of an unmanaged process manager when it is free or expired.
    pub(crate) async fn claim_one(
        &self,
        client: &impl GenericClient,
        pm: &str,
        partition: u32,
    ) -> Result<Option<i64>, StoreError> {
        self.seed(client, pm).await?;
        let row = client
            .query_opt(
                "UPDATE pm_lease SET owner = $3, epoch = epoch + 1, \
                 expires_at = now() + $4::bigint * interval '1 millisecond' \
                 WHERE pm = $1 AND partition = $2 \
                 AND (owner IS NULL OR owner = $3 OR expires_at <= now()) RETURNING epoch",
                &[&pm, &(partition as i32), &self.node, &self.ttl_ms],
            )
            .await?;
        let epoch = row.map(|r| r.get::<_, i64>(0));
        if let Some(epoch) = epoch {
            self.gain(pm, [(partition, epoch)]);
        }
        Ok(epoch)
    }

    /// One heartbeat: records this node as live, renews its leases (the rows still held are
    /// the truth: any other was lost), then claims up to a fair share of each managed
    /// process manager's partitions, `ceil(P / live nodes)`, and releases any surplus.
    pub(crate) async fn heartbeat(&self, client: &impl GenericClient) -> Result<(), StoreError> {
        let _claiming = self.claiming.lock().await;
        client
            .execute(
                "INSERT INTO pm_node (node_id, heartbeat_at) VALUES ($1, now()) \
                 ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = now()",
                &[&self.node],
            )
            .await?;
        let renewed = client
            .query(
                "UPDATE pm_lease SET expires_at = now() + $2::bigint * interval '1 millisecond' \
                 WHERE owner = $1 RETURNING pm, partition, epoch",
                &[&self.node, &self.ttl_ms],
            )
            .await?;
        let mut held: Owned = HashMap::new();
        for row in renewed {
            held.entry(row.get(0))
                .or_default()
                .insert(row.get::<_, i32>(1) as u32, row.get(2));
        }
        *self.write() = held;
        let live: i64 = client
            .query_one(
                "SELECT count(*) FROM pm_node \
                 WHERE heartbeat_at > now() - $1::bigint * interval '1 millisecond'",
                &[&self.ttl_ms],
            )
            .await?
            .get(0);
        let live = live.max(1) as u32;
        let fair = self.partitions.div_ceil(live);
        let managed: Vec<String> = (self.managed.read().unwrap_or_else(PoisonError::into_inner))
            .iter()
            .cloned()
            .collect();
        for pm in managed {
            let mine: Vec<u32> = {
                let owned = self.read();
                let mut mine: Vec<u32> = owned
                    .get(&pm)
                    .map(|m| m.keys().copied().collect())
                    .unwrap_or_default();
                mine.sort_unstable();
                mine
            };
            let count = mine.len() as u32;
            if count < fair {
                let claimed = client
                    .query(
                        "UPDATE pm_lease l SET owner = $2, epoch = l.epoch + 1, \
                         expires_at = now() + $3::bigint * interval '1 millisecond' \
                         FROM (SELECT pm, partition FROM pm_lease \
                               WHERE pm = $1 AND (owner IS NULL OR expires_at <= now()) \
                               ORDER BY partition LIMIT $4 FOR UPDATE SKIP LOCKED) AS free \
                         WHERE l.pm = free.pm AND l.partition = free.partition \
                         RETURNING l.partition, l.epoch",
                        &[&pm, &self.node, &self.ttl_ms, &i64::from(fair - count)],
                    )
                    .await?;
                let claimed: Vec<(u32, i64)> = claimed
                    .iter()
                    .map(|r| (r.get::<_, i32>(0) as u32, r.get(1)))
                    .collect();
                if !claimed.is_empty() {
                    tracing::info!(node = %self.node, %pm, claimed = claimed.len(),
                                   held = count as usize + claimed.len(), "claimed partitions");
                }
                self.gain(&pm, claimed);
            } else if count > fair {
                let surplus: Vec<i32> = mine[fair as usize..].iter().map(|p| *p as i32).collect();
                {
                    let mut owned = self.write();
                    if let Some(of_pm) = owned.get_mut(&pm) {
                        for p in &surplus {
                            of_pm.remove(&(*p as u32));
                        }
                    }
                }
                client
                    .execute(
                        "UPDATE pm_lease SET owner = NULL, expires_at = now() \
                         WHERE pm = $1 AND owner = $2 AND partition = ANY($3)",
                        &[&pm, &self.node, &surplus],
                    )
                    .await?;
                tracing::info!(node = %self.node, %pm, released = surplus.len(), "released partitions");
            }
        }
        Ok(())
    }

    /// Gives every lease back and leaves the live set, for an orderly shutdown: the other
    /// nodes take the partitions at their next heartbeat instead of after the ttl.
    pub(crate) async fn release_all(&self, client: &impl GenericClient) -> Result<(), StoreError> {
        let _claiming = self.claiming.lock().await;
        self.write().clear();
        client
            .execute(
                "UPDATE pm_lease SET owner = NULL, expires_at = now() WHERE owner = $1",
                &[&self.node],
            )
            .await?;
        client
            .execute("DELETE FROM pm_node WHERE node_id = $1", &[&self.node])
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv1a_over_the_length_prefixed_name_and_the_id() {
        // Computed independently (a few lines of Python); they pin the whole definition.
        assert_eq!(fnv1a("", ""), 0xa8c7_f832_281a_39c5);
        assert_eq!(fnv1a("order_fulfillment", "o-1"), 0x02b9_e647_8dcb_e1a0);
        assert_eq!(fnv1a("demo_order", "order-0000001"), 0xa6e8_667e_bdc5_e95b);
        assert_ne!(fnv1a("ab", "c"), fnv1a("a", "bc"));
        assert_eq!(partition_of("order_fulfillment", "o-1", 256), 160);
        assert_eq!(partition_of("demo_order", "order-0000001", 256), 91);
        assert_eq!(partition_of("demo_order", "order-0000001", 2), 1);
    }

    #[test]
    fn partitions_spread_evenly() {
        let mut counts = [0u32; 16];
        for i in 0..16_000 {
            counts[partition_of("demo_order", &format!("order-{i:07}"), 16) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
    }
}
