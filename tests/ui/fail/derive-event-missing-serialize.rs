use pm_runtime::prelude::*;
use serde::Deserialize;

// `Event` needs `Serialize` too.
#[derive(Deserialize, Event)]
pub struct OrderPlaced {
    pub order_id: String,
}

fn main() {}
