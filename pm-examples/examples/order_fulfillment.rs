//! The order saga end to end: charge, reserve, ship; when the stock side rejects an order,
//! the saga aborts and the charge is refunded.
//!
//! `cargo run -p pm-examples --example order_fulfillment`
//!
//! The command side is simulated in-process: each accepted command produces the event the
//! real aggregate would emit, which the main loop publishes back to the runtime. Stock is
//! refused for `o-2`, so its saga compensates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct OrderPlaced {
    order_id: String,
    amount: u64,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct PaymentCharged {
    order_id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct StockReserved {
    order_id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct OrderShipped {
    order_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "payment", id = order_id)]
struct ChargePayment {
    order_id: String,
    amount: u64,
}
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "payment", id = order_id)]
struct RefundPayment {
    order_id: String,
    amount: u64,
}
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "stock", id = order_id)]
struct ReserveStock {
    order_id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "shipping", id = order_id)]
struct ShipOrder {
    order_id: String,
}

/// The saga's state: what has happened to the order so far.
#[derive(Debug, Default, Serialize, Deserialize)]
struct OrderFulfillment {
    amount: u64,
    charged: bool,
    reserved: bool,
    shipped: bool,
}

#[process_manager(
    name = "order_fulfillment",
    correlate = order_id,
    commands(ChargePayment, RefundPayment, ReserveStock, ShipOrder)
)]
impl OrderFulfillment {
    #[start]
    fn placed(&mut self, e: &OrderPlaced) -> ChargePayment {
        self.amount = e.amount;
        ChargePayment {
            order_id: e.order_id.clone(),
            amount: e.amount,
        }
    }

    #[handle]
    fn charged(&mut self, e: &PaymentCharged) -> ReserveStock {
        self.charged = true;
        ReserveStock {
            order_id: e.order_id.clone(),
        }
    }

    #[handle]
    fn reserved(&mut self, e: &StockReserved) -> ShipOrder {
        self.reserved = true;
        ShipOrder {
            order_id: e.order_id.clone(),
        }
    }

    #[stop]
    fn shipped(&mut self, _e: &OrderShipped) {
        self.shipped = true;
    }

    #[compensate(ChargePayment)]
    fn refund(&mut self, c: &ChargePayment) -> RefundPayment {
        self.charged = false;
        RefundPayment {
            order_id: c.order_id.clone(),
            amount: c.amount,
        }
    }
}

/// The simulated command side: accepts commands, answers with the resulting events.
struct CommandSide {
    events: mpsc::UnboundedSender<EventEnvelope>,
    /// Command ids seen, so the trace can say what a compensation undoes.
    seen: Mutex<HashMap<uuid::Uuid, String>>,
}

impl CommandDispatcher for CommandSide {
    async fn dispatch(&self, command: &CommandEnvelope) -> Result<(), DispatchError> {
        let id = command.aggregate_id.clone();
        let cause = command
            .causation_id
            .and_then(|c| self.seen.lock().ok()?.get(&c).cloned());
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(command.command_id, command.command_type.to_string());
        }
        let note = cause.map_or(String::new(), |failed| {
            format!("   (compensation, after `{failed}` failed)")
        });
        if command.is::<ReserveStock>() && id == "o-2" {
            println!(
                "  command  {:<14} -> stock/{id}: REJECTED (out of stock)",
                command.command_type
            );
            return Err(DispatchError::Rejected("out of stock".into()));
        }
        println!(
            "  command  {:<14} -> {}/{id}{note}",
            command.command_type, command.aggregate_type
        );
        let next = if command.is::<ChargePayment>() {
            Some(EventEnvelope::new(PaymentCharged { order_id: id }))
        } else if command.is::<ReserveStock>() {
            Some(EventEnvelope::new(StockReserved { order_id: id }))
        } else if command.is::<ShipOrder>() {
            Some(EventEnvelope::new(OrderShipped { order_id: id }))
        } else {
            None
        };
        if let Some(event) = next {
            self.events
                .send(event)
                .map_err(|_| DispatchError::Unavailable("event loop closed".into()))?;
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Unbounded is safe here: the command side emits at most one event per command, and the
    // example runs two orders.
    let (events, mut incoming) = mpsc::unbounded_channel();
    let command_side = Arc::new(CommandSide {
        events: events.clone(),
        seen: Mutex::default(),
    });
    let runtime = Runtime::builder()
        .dispatcher(command_side)
        .register::<OrderFulfillment>()
        .start()
        .await?;

    for (order_id, amount) in [("o-1", 40), ("o-2", 25)] {
        events.send(EventEnvelope::new(OrderPlaced {
            order_id: order_id.into(),
            amount,
        }))?;
    }

    loop {
        runtime.settled().await;
        let Ok(event) = incoming.try_recv() else {
            break;
        };
        let order_id = event
            .payload
            .to_json()?
            .get("order_id")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        println!(
            "event    {:<14} -> order_fulfillment/{order_id}",
            event.event_type
        );
        runtime.publish_envelope(event).await?;
        runtime.settled().await;
        let state: OrderFulfillment = runtime.state(order_id.as_str()).await?;
        let status = runtime
            .status::<OrderFulfillment>(order_id.as_str())
            .await?;
        println!("  state    {state:?} [{status}]");
    }

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
