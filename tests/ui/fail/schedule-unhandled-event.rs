use std::time::Duration;

use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
pub struct OrderPlaced {
    pub order_id: String,
}

#[derive(Serialize, Deserialize, Event)]
pub struct ShippingDeadline {
    pub order_id: String,
}

#[derive(Default, Serialize, Deserialize)]
pub struct Saga;

#[process_manager(correlate = order_id)]
impl Saga {
    #[start]
    fn placed(&mut self, e: &OrderPlaced, ctx: &mut Context<Self>) {
        // `Saga` has no handler for `ShippingDeadline`: the timeout could never be delivered.
        let deadline = ShippingDeadline {
            order_id: e.order_id.clone(),
        };
        ctx.schedule(Duration::from_secs(3600), deadline);
    }
}

fn main() {}
