use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
pub struct OrderPlaced {
    pub order_id: String,
}

// Not `#[derive(Command)]`.
#[derive(Serialize, Deserialize)]
pub struct ChargePayment {
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
}

fn main() {}
