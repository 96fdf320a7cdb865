use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
pub struct OrderPlaced {
    pub order_id: String,
}

#[derive(Default, Serialize, Deserialize)]
pub struct Saga;

// No `#[process_manager]` on this impl block.
impl Saga {
    #[start]
    pub fn placed(&mut self, _e: &OrderPlaced) {}
}

fn main() {}
