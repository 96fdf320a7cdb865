use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Command)]
#[command(id = order_id)]
pub struct ChargePayment {
    pub order_id: String,
}

fn main() {}
