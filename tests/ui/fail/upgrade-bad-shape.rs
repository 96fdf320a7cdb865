use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
pub struct OrderPlaced {
    pub order_id: String,
}

#[derive(Default, Serialize, Deserialize)]
pub struct Saga {
    pub amount: u64,
}

#[process_manager(correlate = order_id, version = 2)]
impl Saga {
    #[start]
    fn placed(&mut self, _e: &OrderPlaced) {}

    #[upgrade]
    fn upgrade(_from_version: u32, _state: serde_json::Value) -> Self {
        Saga { amount: 0 }
    }
}

fn main() {}
