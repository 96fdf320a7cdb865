use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
pub struct Wrapped<T> {
    pub order_id: String,
    pub inner: T,
}

fn main() {}
