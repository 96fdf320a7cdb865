//! `<Type>::DIAGRAM`: the Mermaid flowchart `#[process_manager]` derives from the
//! declarations.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

use common::{
    ChargePayment, OrderPlaced, OrderShipped, PaymentCharged, RefundPayment, ReserveStock,
};

#[test]
fn the_order_saga() {
    assert_eq!(
        common::Order::DIAGRAM,
        r#"flowchart LR
    %% process manager `order`
    e0(["OrderPlaced (start)"])
    e1(["PaymentCharged (continue)"])
    e2(["StockReserved (continue)"])
    e3(["OrderShipped (stop)"])
    e4(["OrderNoted (continue)"])
    e5(["Explode (continue)"])
    c0["ChargePayment"]
    c1["RefundPayment"]
    c2["ReserveStock"]
    c3["ShipOrder"]
    e0 --> c0
    e1 --> c2
    e2 --> c3
    c1 -.->|compensates| c0
"#
    );
}

#[test]
fn a_pm_without_commands() {
    assert_eq!(
        common::Audit::DIAGRAM,
        r#"flowchart LR
    %% process manager `audit`
    e0(["OrderPlaced (start)"])
    e1(["OrderNoted (continue)"])
"#
    );
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct ShippingDeadline {
    order_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct SkuWithdrawn {
    orders: Vec<String>,
}

/// The saga of DESIGN §3: a timeout, a fan-out event, a custom failure policy.
#[derive(Debug, Default, Serialize, Deserialize)]
struct OrderFulfillment {
    charged: bool,
}

#[process_manager(
    name = "order_fulfillment",
    correlate = order_id,
    commands(ChargePayment, RefundPayment, ReserveStock)
)]
impl OrderFulfillment {
    #[start(new)]
    fn placed(&mut self, e: &OrderPlaced) -> ChargePayment {
        ChargePayment {
            order_id: e.order_id.clone(),
            amount: e.amount,
        }
    }

    #[handle]
    fn charged(&mut self, e: &PaymentCharged, ctx: &mut Context<Self>) -> ReserveStock {
        self.charged = true;
        ctx.schedule(
            Duration::from_secs(3600),
            ShippingDeadline {
                order_id: e.order_id.clone(),
            },
        );
        ReserveStock {
            order_id: e.order_id.clone(),
        }
    }

    #[handle(correlate_with = Self::orders_of)]
    fn sku_withdrawn(&mut self, _: &SkuWithdrawn) -> Vec<OrderFulfillmentCommand> {
        Vec::new()
    }

    #[stop]
    fn deadline(&mut self, _: &ShippingDeadline) {}

    #[stop]
    fn shipped(&mut self, _: &OrderShipped, ctx: &mut Context<Self>) {
        ctx.cancel::<ShippingDeadline>();
    }

    #[compensate(ChargePayment)]
    fn refund(&mut self, c: &ChargePayment) -> RefundPayment {
        RefundPayment {
            order_id: c.order_id.clone(),
            amount: c.amount,
        }
    }

    #[on_error]
    fn failed(&mut self, _: &CommandFailure) -> ErrorAction<OrderFulfillmentCommand> {
        ErrorAction::Compensate
    }

    fn orders_of(e: &SkuWithdrawn, _: &EventMeta<'_>) -> Vec<ProcessId> {
        e.orders.iter().map(ProcessId::from).collect()
    }
}

#[test]
fn the_design_saga() {
    assert_eq!(
        OrderFulfillment::DIAGRAM,
        r#"flowchart LR
    %% process manager `order_fulfillment`
    e0(["OrderPlaced (start new)"])
    e1(["PaymentCharged (continue)"])
    e2(["SkuWithdrawn (continue)"])
    e3(["ShippingDeadline (stop)"])
    e4(["OrderShipped (stop)"])
    c0["ChargePayment"]
    c1["RefundPayment"]
    c2["ReserveStock"]
    any[/"any command"/]
    on_error{{"on_error: failed"}}
    e0 --> c0
    e1 --> c2
    e2 --> any
    c1 -.->|compensates| c0
    e1 -.->|schedules| e3
"#
    );
}
