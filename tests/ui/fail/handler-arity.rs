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
    fn placed(&mut self, _e: &OrderPlaced, _ctx: &mut Context<Self>, _extra: u32) {}
}

fn main() {}
