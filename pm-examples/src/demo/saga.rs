//! The demo runs the example's order saga: charge, reserve, ship; refund when stock is refused.

pub use crate::sagas::order_fulfillment::OrderFulfillment as DemoOrder;
pub(super) use crate::sagas::order_fulfillment::{
    ChargePayment, OrderShipped, PaymentCharged, ReserveStock, ShipOrder, StockReserved,
};
