//! `correlate_with`: one event reaches zero, one or many instances.
use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct OrderPlaced {
    pub order_id: String,
}

/// Reaches every order it lists: none, one or many.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct SkuWithdrawn {
    pub sku: String,
    pub orders: Vec<String>,
}

/// Routed by its metadata rather than a field.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Audited;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Order {
    pub withdrawn: Vec<String>,
    pub audited: bool,
}

#[process_manager(correlate = order_id)]
impl Order {
    #[start]
    fn placed(&mut self, _: &OrderPlaced) {}

    #[handle(correlate_with = Self::orders_of)]
    fn withdrawn(&mut self, e: &SkuWithdrawn) {
        self.withdrawn.push(e.sku.clone());
    }

    #[handle(correlate_with = by_stream)]
    fn audited(&mut self, _: &Audited) {
        self.audited = true;
    }

    fn orders_of(e: &SkuWithdrawn, _: &EventMeta<'_>) -> Vec<ProcessId> {
        e.orders.iter().map(ProcessId::from).collect()
    }
}

/// A free function works too, and any `IntoIterator` of ids.
fn by_stream(_: &Audited, meta: &EventMeta<'_>) -> Option<ProcessId> {
    meta.stream_id().map(ProcessId::from)
}

struct Nowhere;

impl CommandDispatcher for Nowhere {
    async fn dispatch(&self, _: &CommandEnvelope) -> Result<(), DispatchError> {
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = Runtime::builder()
        .dispatcher(Nowhere)
        .register::<Order>()
        .start()
        .await?;
    for id in ["o-1", "o-2", "o-3"] {
        runtime
            .publish(OrderPlaced {
                order_id: id.into(),
            })
            .await?;
    }
    let withdraw = |sku: &str, orders: &[&str]| SkuWithdrawn {
        sku: sku.into(),
        orders: orders.iter().map(|o| o.to_string()).collect(),
    };
    runtime.publish(withdraw("none", &[])).await?;
    runtime.publish(withdraw("one", &["o-1"])).await?;
    runtime
        .publish(withdraw("many", &["o-1", "o-2", "o-3"]))
        .await?;
    runtime.settled().await;
    let o1: Order = runtime.state("o-1").await?;
    let o3: Order = runtime.state("o-3").await?;
    assert_eq!(o1.withdrawn, ["one", "many"]);
    assert_eq!(o3.withdrawn, ["many"]);
    runtime.shutdown().await?;
    Ok(())
}
