//! The simulated command side: applies each command once per idempotency key and appends the
//! event the aggregate would emit. Stock is refused for a fixed share of orders.

use pm_runtime::{CommandDispatcher, CommandEnvelope, DispatchError};
use uuid::Uuid;

use super::saga::{
    ChargePayment, OrderShipped, PaymentCharged, ReserveStock, ShipOrder, StockReserved,
};
use super::world::{Effect, World};

/// Dispatches the demo's commands into its [`World`].
pub(super) struct CommandSide {
    world: World,
    reject_per_mille: u32,
}

impl CommandSide {
    /// Refuses `ReserveStock` for `reject_rate` (0.0 to 1.0) of the orders.
    pub(super) fn new(world: World, reject_rate: f64) -> Self {
        Self {
            world,
            reject_per_mille: (reject_rate.clamp(0.0, 1.0) * 1000.0).round() as u32,
        }
    }
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
        self.world
            .apply(effect)
            .await
            .map_err(|e| DispatchError::Unavailable(e.to_string()))
    }
}

fn json<E: pm_runtime::Event>(order_id: &str) -> (&'static str, serde_json::Value) {
    (E::NAME, serde_json::json!({ "order_id": order_id }))
}
