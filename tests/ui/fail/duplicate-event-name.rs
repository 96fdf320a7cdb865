use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
pub struct OrderPlaced {
    pub order_id: String,
}

mod legacy {
    use pm_runtime::prelude::*;
    use serde::{Deserialize, Serialize};

    // Same `Event::NAME` as the other `OrderPlaced`: the wire cannot tell them apart.
    #[derive(Serialize, Deserialize, Event)]
    pub struct OrderPlaced {
        pub order_id: String,
    }
}

#[derive(Default, Serialize, Deserialize)]
pub struct Saga;

#[process_manager(correlate = order_id)]
impl Saga {
    #[start]
    fn placed(&mut self, _e: &OrderPlaced) {}

    #[handle]
    fn placed_legacy(&mut self, _e: &legacy::OrderPlaced) {}
}

fn main() {}
