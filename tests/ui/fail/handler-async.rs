use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
pub struct OrderPlaced {
    pub order_id: String,
}

#[derive(Default, Serialize, Deserialize)]
pub struct Saga;

#[process_manager(correlate = order_id)]
impl Saga {
    #[start]
    async fn placed(&mut self, _e: &OrderPlaced) {}
}

fn main() {}
