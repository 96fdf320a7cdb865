//! Sagas and a recording dispatcher shared by the end-to-end tests.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use pm_runtime::{
    Command, CommandDispatcher, CommandEnvelope, DispatchError, Error, Event, HandlerError,
    Runtime, process_manager,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct OrderPlaced {
    pub order_id: String,
    pub amount: u64,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct PaymentCharged {
    pub order_id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct StockReserved {
    pub order_id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct OrderShipped {
    pub order_id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct OrderNoted {
    pub order_id: String,
    pub note: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Explode {
    pub order_id: String,
    pub panic: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Command)]
#[command(aggregate = "payment", id = order_id)]
pub struct ChargePayment {
    pub order_id: String,
    pub amount: u64,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Command)]
#[command(aggregate = "payment", id = order_id)]
pub struct RefundPayment {
    pub order_id: String,
    pub amount: u64,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Command)]
#[command(aggregate = "stock", id = order_id)]
pub struct ReserveStock {
    pub order_id: String,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Command)]
#[command(aggregate = "shipping", id = order_id)]
pub struct ShipOrder {
    pub order_id: String,
}

/// The order saga of the tests: charge, reserve, ship; refund on abort.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub amount: u64,
    pub charged: bool,
    pub reserved: bool,
    pub shipped: bool,
    pub notes: Vec<String>,
}

#[process_manager(
    name = "order",
    correlate = order_id,
    commands(ChargePayment, RefundPayment, ReserveStock, ShipOrder)
)]
impl Order {
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

    #[handle]
    fn noted(&mut self, e: &OrderNoted) {
        self.notes.push(e.note.clone());
    }

    #[handle]
    fn explode(&mut self, e: &Explode) -> Result<(), String> {
        self.notes.push("mutated before failing".into());
        if e.panic {
            panic!("kaboom");
        }
        Err("refused by the handler".into())
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

/// A second PM that shares `OrderPlaced`/`OrderNoted` and the process ids with `Order`.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Audit {
    pub entries: Vec<String>,
}

#[process_manager(name = "audit", correlate = order_id)]
impl Audit {
    #[start]
    fn placed(&mut self, e: &OrderPlaced) {
        self.entries.push(format!("placed {}", e.amount));
    }

    #[handle]
    fn noted(&mut self, e: &OrderNoted) {
        self.entries.push(format!("noted {}", e.note));
    }
}

/// Records every command it receives; rejects the (type, aggregate id) pairs it is told to.
#[derive(Clone, Default)]
pub struct Recorder {
    sent: Arc<Mutex<Vec<CommandEnvelope>>>,
    reject: Arc<Mutex<HashSet<(String, String)>>>,
}

impl Recorder {
    pub fn reject(&self, command_type: &str, aggregate_id: &str) {
        self.reject
            .lock()
            .unwrap()
            .insert((command_type.to_owned(), aggregate_id.to_owned()));
    }

    pub fn sent(&self) -> Vec<CommandEnvelope> {
        self.sent.lock().unwrap().clone()
    }

    /// `(command type, aggregate id)` of every command received, in order.
    pub fn log(&self) -> Vec<(String, String)> {
        self.sent()
            .iter()
            .map(|c| (c.command_type.to_string(), c.aggregate_id.clone()))
            .collect()
    }

    pub fn log_for(&self, aggregate_id: &str) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|(_, id)| id == aggregate_id)
            .map(|(t, _)| t)
            .collect()
    }
}

impl CommandDispatcher for Recorder {
    async fn dispatch(&self, command: &CommandEnvelope) -> Result<(), DispatchError> {
        self.sent.lock().unwrap().push(command.clone());
        let key = (
            command.command_type.to_string(),
            command.aggregate_id.clone(),
        );
        if self.reject.lock().unwrap().contains(&key) {
            return Err(DispatchError::Rejected(format!("{} refused", key.0)));
        }
        Ok(())
    }
}

pub async fn runtime(recorder: &Recorder) -> Runtime {
    Runtime::builder()
        .dispatcher(recorder.clone())
        .register::<Order>()
        .register::<Audit>()
        .start()
        .await
        .expect("runtime starts")
}

pub fn placed(id: &str, amount: u64) -> OrderPlaced {
    OrderPlaced {
        order_id: id.to_owned(),
        amount,
    }
}

/// Publishes an `Explode` whose handler panics at `order_id`, and checks that the panic came
/// back as the handler's error.
pub async fn publish_panicking(rt: &Runtime, order_id: &str) {
    let err = rt
        .publish(Explode {
            order_id: order_id.into(),
            panic: true,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Handler { source: HandlerError::Panicked(m), .. } if m == "kaboom"),
        "{err}"
    );
}
