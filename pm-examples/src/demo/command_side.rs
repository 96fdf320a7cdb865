//! The simulated command side: applies each command once per idempotency key and appends the
//! event the aggregate would emit. Stock is refused for a fixed share of orders.

use pm_runtime::{CommandDispatcher, CommandEnvelope, DispatchError};
use uuid::Uuid;

use super::pg::PgWorld;
use super::saga::{
    ChargePayment, OrderShipped, PaymentCharged, ReserveStock, ShipOrder, StockReserved,
};
use super::world::{Effect, World};

/// Where effects are recorded: the SQLite file or the PostgreSQL database.
enum Sink {
    Sqlite(World),
    Postgres(PgWorld),
}

/// Dispatches the demo's commands into its [`World`].
pub(super) struct CommandSide {
    world: Sink,
    reject_per_mille: u32,
}

impl CommandSide {
    /// Refuses `ReserveStock` for `reject_rate` (0.0 to 1.0) of the orders.
    pub(super) fn new(world: World, reject_rate: f64) -> Self {
        Self {
            world: Sink::Sqlite(world),
            reject_per_mille: per_mille(reject_rate),
        }
    }

    /// The same, recording effects in PostgreSQL.
    pub(super) fn postgres(world: PgWorld, reject_rate: f64) -> Self {
        Self {
            world: Sink::Postgres(world),
            reject_per_mille: per_mille(reject_rate),
        }
    }
}

fn per_mille(rate: f64) -> u32 {
    (rate.clamp(0.0, 1.0) * 1000.0).round() as u32
}

/// Whether stock is refused for `order_id`: a stable hash, so every run agrees.
pub fn stock_refused(order_id: &str, reject_per_mille: u32) -> bool {
    // FNV-1a: stable across runs and platforms, unlike `DefaultHasher`.
    let hash = order_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash % 1000 < u64::from(reject_per_mille)
}

impl CommandDispatcher for CommandSide {
    async fn dispatch(&self, command: &CommandEnvelope) -> Result<(), DispatchError> {
        let order_id = command.aggregate_id.clone();
        if command.is::<ReserveStock>() && stock_refused(&order_id, self.reject_per_mille) {
            return Err(DispatchError::Rejected(format!("no stock for {order_id}")));
        }
        let next: Option<(&'static str, serde_json::Value)> = if command.is::<ChargePayment>() {
            Some(json::<PaymentCharged>(&order_id))
        } else if command.is::<ReserveStock>() {
            Some(json::<StockReserved>(&order_id))
        } else if command.is::<ShipOrder>() {
            Some(json::<OrderShipped>(&order_id))
        } else {
            None
        };
        // The event's id derives from the command's, so a redelivery appends nothing new.
        let event_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, command.command_id.as_bytes());
        let effect = Effect {
            key: command.idempotency_key.to_string(),
            saga: order_id,
            command_type: command.command_type.to_string(),
            event: next.map(|(event_type, payload)| {
                (event_id.to_string(), event_type, payload.to_string())
            }),
        };
        let applied = match &self.world {
            Sink::Sqlite(world) => world.apply(effect).await.map_err(|e| e.to_string()),
            Sink::Postgres(world) => world.apply(effect).await.map_err(|e| e.to_string()),
        };
        applied.map_err(DispatchError::Unavailable)
    }
}

fn json<E: pm_runtime::Event>(order_id: &str) -> (&'static str, serde_json::Value) {
    (E::NAME, serde_json::json!({ "order_id": order_id }))
}
