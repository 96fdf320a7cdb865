use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
pub struct OrderPlaced {
    pub order_id: String,
}

#[derive(Default, Deserialize)]
pub struct Saga {
    pub amount: u64,
}

#[process_manager(correlate = order_id)]
impl Saga {
    #[start]
    fn placed(&mut self, _e: &OrderPlaced) {}
}

fn main() {}
