//! The order saga end to end: charge, reserve, ship; when the stock side rejects an order,
//! the saga aborts and the charge is refunded.
//!
//! `cargo run -p pm-examples --example order_fulfillment`
//!
//! The command side is simulated in-process: each accepted command produces the event the
//! real aggregate would emit, which the main loop publishes back to the runtime. Stock is
//! refused for `o-2`, so its saga compensates. The saga is
//! `pm_examples::sagas::order_fulfillment`; `tests/order_fulfillment.rs` tests it with the
//! fixture.

use std::sync::Arc;

use pm_examples::sagas::order_fulfillment::*;
use pm_examples::trace::{Answer, Simulated, publish_all};
use pm_runtime::prelude::*;

/// The aggregates: each command succeeds with its event, except stock for `o-2`.
fn command_side(command: &CommandEnvelope) -> Answer {
    let order_id = command.aggregate_id.clone();
    if command.is::<ReserveStock>() && order_id == "o-2" {
        return Err(DispatchError::Rejected("out of stock".into()));
    }
    Ok(if command.is::<ChargePayment>() {
        Some(EventEnvelope::new(PaymentCharged { order_id }))
    } else if command.is::<ReserveStock>() {
        Some(EventEnvelope::new(StockReserved { order_id }))
    } else if command.is::<ShipOrder>() {
        Some(EventEnvelope::new(OrderShipped { order_id }))
    } else {
        None
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (side, mut incoming) = Simulated::new(command_side);
    let side = Arc::new(side);
    let runtime = Runtime::builder()
        .dispatcher(Arc::clone(&side))
        .register::<OrderFulfillment>()
        .start()
        .await?;

    for (order_id, amount) in [("o-1", 40), ("o-2", 25)] {
        side.emit(OrderPlaced {
            order_id: order_id.into(),
            amount,
        })?;
    }
    publish_all::<OrderFulfillment>(&runtime, &mut incoming, "order_id").await?;

    println!();
    for order_id in ["o-1", "o-2"] {
        let status = runtime.status::<OrderFulfillment>(order_id).await?;
        println!("saga order_fulfillment/{order_id}: {status}");
    }
    let stats = runtime.stats();
    println!(
        "events handled={} commands dispatched={} completed={} compensated={}",
        stats.handled, stats.commands_dispatched, stats.completed, stats.compensated
    );
    runtime.shutdown().await?;
    Ok(())
}
