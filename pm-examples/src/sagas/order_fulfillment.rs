//! The order saga: charge, reserve, ship; when the stock side rejects an order, the saga
//! aborts and the charge is refunded.

use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

/// A customer placed an order.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct OrderPlaced {
    /// The order, and the saga's process id.
    pub order_id: String,
    /// What to charge.
    pub amount: u64,
}
/// The payment side charged the order.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct PaymentCharged {
    /// The order.
    pub order_id: String,
}
/// The stock side reserved the order's goods.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct StockReserved {
    /// The order.
    pub order_id: String,
}
/// The order left the warehouse.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct OrderShipped {
    /// The order.
    pub order_id: String,
}

/// Charge the customer.
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "payment", id = order_id)]
pub struct ChargePayment {
    /// The order.
    pub order_id: String,
    /// How much.
    pub amount: u64,
}
/// Give a charge back (the undo of [`ChargePayment`]).
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "payment", id = order_id)]
pub struct RefundPayment {
    /// The order.
    pub order_id: String,
    /// How much.
    pub amount: u64,
}
/// Reserve the order's goods.
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "stock", id = order_id)]
pub struct ReserveStock {
    /// The order.
    pub order_id: String,
}
/// Ship the order.
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "shipping", id = order_id)]
pub struct ShipOrder {
    /// The order.
    pub order_id: String,
}

/// The saga's state: what has happened to the order so far.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct OrderFulfillment {
    /// The amount charged.
    pub amount: u64,
    /// Whether the payment went through (and was not refunded).
    pub charged: bool,
    /// Whether the goods are reserved.
    pub reserved: bool,
    /// Whether the order has shipped.
    pub shipped: bool,
}

#[process_manager(
    name = "order_fulfillment",
    correlate = order_id,
    commands(ChargePayment, RefundPayment, ReserveStock, ShipOrder)
)]
impl OrderFulfillment {
    #[start]
    fn placed(&mut self, e: &OrderPlaced) -> ChargePayment {
        self.amount = e.amount;
        ChargePayment {
            order_id: e.order_id.clone(),
            amount: e.amount,
        }
    }

    #[handle]
    fn charged(&mut self, e: &PaymentCharged) -> ReserveStock {
        self.charged = true;
        ReserveStock {
            order_id: e.order_id.clone(),
        }
    }

    #[handle]
    fn reserved(&mut self, e: &StockReserved) -> ShipOrder {
        self.reserved = true;
        ShipOrder {
            order_id: e.order_id.clone(),
        }
    }

    #[stop]
    fn shipped(&mut self, _e: &OrderShipped) {
        self.shipped = true;
    }

    #[compensate(ChargePayment)]
    fn refund(&mut self, c: &ChargePayment) -> RefundPayment {
        self.charged = false;
        RefundPayment {
            order_id: c.order_id.clone(),
            amount: c.amount,
        }
    }
}
