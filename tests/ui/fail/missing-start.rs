use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
pub struct PaymentCharged {
    pub order_id: String,
}

#[derive(Default, Serialize, Deserialize)]
pub struct Saga;

#[process_manager(correlate = order_id)]
impl Saga {
    #[handle]
    fn charged(&mut self, _e: &PaymentCharged) {}
}

fn main() {}
