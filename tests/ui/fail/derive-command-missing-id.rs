use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Command)]
#[command(aggregate = "payment", id = order)]
pub struct ChargePayment {
    pub order_id: String,
}

fn main() {}
