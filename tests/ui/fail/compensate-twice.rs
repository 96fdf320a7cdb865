use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
pub struct OrderPlaced {
    pub order_id: String,
}

#[derive(Serialize, Deserialize, Command)]
#[command(aggregate = "payment", id = order_id)]
pub struct ChargePayment {
    pub order_id: String,
}

#[derive(Serialize, Deserialize, Command)]
#[command(aggregate = "payment", id = order_id)]
pub struct RefundPayment {
    pub order_id: String,
}

#[derive(Default, Serialize, Deserialize)]
pub struct Saga;

#[process_manager(correlate = order_id, commands(ChargePayment, RefundPayment))]
impl Saga {
    #[start]
    fn placed(&mut self, e: &OrderPlaced) -> ChargePayment {
        ChargePayment {
            order_id: e.order_id.clone(),
        }
    }

    #[compensate(ChargePayment)]
    fn refund(&mut self, c: &ChargePayment) -> RefundPayment {
        RefundPayment {
            order_id: c.order_id.clone(),
        }
    }

    #[compensate(ChargePayment)]
    fn refund_again(&mut self, _c: &ChargePayment) {}
}

fn main() {}
