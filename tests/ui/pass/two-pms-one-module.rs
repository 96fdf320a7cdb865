//! Two process managers in one module share events and commands; each gets its own command
//! enum, `Handles` impls and diagram.
use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct OrderPlaced {
    pub order_id: String,
    pub amount: u64,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct OrderShipped {
    pub order_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "payment", id = order_id)]
pub struct ChargePayment {
    pub order_id: String,
    pub amount: u64,
}
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "mail", id = order_id)]
pub struct SendMail {
    pub order_id: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Billing;

#[process_manager(correlate = order_id, commands(ChargePayment, SendMail))]
impl Billing {
    #[start]
    fn placed(&mut self, e: &OrderPlaced) -> ChargePayment {
        ChargePayment {
            order_id: e.order_id.clone(),
            amount: e.amount,
        }
    }

    #[stop]
    fn shipped(&mut self, e: &OrderShipped) -> SendMail {
        SendMail {
            order_id: e.order_id.clone(),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Notifications {
    pub sent: u32,
}

// Same method names, same events, an overlapping command set.
#[process_manager(correlate = order_id, commands(SendMail))]
impl Notifications {
    #[start]
    fn placed(&mut self, e: &OrderPlaced) -> SendMail {
        self.sent += 1;
        SendMail {
            order_id: e.order_id.clone(),
        }
    }

    #[stop]
    fn shipped(&mut self, e: &OrderShipped) -> Option<NotificationsCommand> {
        self.sent += 1;
        Some(
            SendMail {
                order_id: e.order_id.clone(),
            }
            .into(),
        )
    }
}

#[derive(Default)]
struct Outbox(std::sync::Mutex<Vec<String>>);

impl CommandDispatcher for Outbox {
    async fn dispatch(&self, command: &CommandEnvelope) -> Result<(), DispatchError> {
        let mut sent = self
            .0
            .lock()
            .map_err(|_| DispatchError::Unavailable("poisoned".into()))?;
        sent.push(command.command_type.to_string());
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let outbox = std::sync::Arc::new(Outbox::default());
    let runtime = Runtime::builder()
        .dispatcher(outbox.clone())
        .register::<Billing>()
        .register::<Notifications>()
        .start()
        .await?;
    runtime
        .publish(OrderPlaced {
            order_id: "o-1".into(),
            amount: 5,
        })
        .await?;
    runtime.settled().await;
    let mut sent = outbox.0.lock().map(|s| s.clone()).unwrap_or_default();
    sent.sort();
    assert_eq!(sent, ["ChargePayment", "SendMail"]);
    assert_ne!(Billing::DIAGRAM, Notifications::DIAGRAM);
    runtime.shutdown().await?;
    Ok(())
}
