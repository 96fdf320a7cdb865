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
#[command(aggregate = "stock", id = order_id)]
pub struct ReserveStock {
    pub order_id: String,
}

#[derive(Default, Serialize, Deserialize)]
pub struct Saga;

#[process_manager(correlate = order_id, commands(ChargePayment))]
impl Saga {
    #[start]
    fn placed(&mut self, e: &OrderPlaced) -> ChargePayment {
        ChargePayment {
            order_id: e.order_id.clone(),
        }
    }

    #[compensate(ReserveStock)]
    fn release(&mut self, _c: &ReserveStock) {}
}

fn main() {}
