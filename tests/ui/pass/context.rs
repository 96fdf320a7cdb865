//! `&mut Context<Self>` in handlers, compensations and `#[on_error]`: schedule, cancel, stop,
//! the process id and the failure.
use std::time::Duration;

use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct OrderPlaced {
    pub order_id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct PaymentDeadline {
    pub order_id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct PaymentCharged {
    pub order_id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Cancelled(pub String);

#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "payment", id = order_id)]
pub struct ChargePayment {
    pub order_id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "payment", id = order_id)]
pub struct RefundPayment {
    pub order_id: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Payment {
    pub id: String,
    pub refunded_after: Option<String>,
}

#[process_manager(correlate = order_id, commands(ChargePayment, RefundPayment))]
impl Payment {
    #[start]
    fn placed(&mut self, e: &OrderPlaced, ctx: &mut Context<Self>) -> ChargePayment {
        self.id = ctx.process_id().to_string();
        ctx.schedule(
            Duration::from_secs(60),
            PaymentDeadline {
                order_id: e.order_id.clone(),
            },
        );
        ChargePayment {
            order_id: e.order_id.clone(),
        }
    }

    #[handle]
    fn charged(&mut self, _: &PaymentCharged, ctx: &mut Context<Self>) {
        ctx.cancel::<PaymentDeadline>();
    }

    #[handle]
    fn deadline(&mut self, _: &PaymentDeadline, ctx: &mut Context<Self>) {
        ctx.stop();
    }

    #[stop(correlate = 0)]
    fn cancelled(&mut self, _: &Cancelled, ctx: &mut Context<Self>) {
        // Scheduling from a `#[stop]` handler is allowed; completion cancels it.
        ctx.schedule(
            Duration::from_secs(1),
            Cancelled(ctx.process_id().to_string()),
        );
    }

    #[compensate(ChargePayment)]
    fn refund(&mut self, c: &ChargePayment, ctx: &mut Context<Self>) -> RefundPayment {
        self.refunded_after = ctx.failure().map(|f| f.command.command_type.to_string());
        RefundPayment {
            order_id: c.order_id.clone(),
        }
    }

    #[on_error]
    fn failed(
        &mut self,
        failure: &CommandFailure,
        ctx: &mut Context<Self>,
    ) -> ErrorAction<PaymentCommand> {
        if failure.attempt >= 3 {
            ctx.stop();
            ErrorAction::Park
        } else {
            ErrorAction::Retry {
                after: Duration::from_millis(10),
            }
        }
    }
}

fn main() {
    assert_eq!(<Payment as ProcessManager>::EVENTS.len(), 4);
}
