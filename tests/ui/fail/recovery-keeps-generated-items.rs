//! One mistake (a misspelt handler argument) in a saga whose other code uses everything the
//! macro generates: still exactly one error.
use std::time::Duration;

use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
pub struct OrderPlaced {
    pub order_id: String,
}

#[derive(Serialize, Deserialize, Event)]
pub struct PaymentTimedOut {
    pub order_id: String,
}

#[derive(Serialize, Deserialize, Command)]
#[command(aggregate = "payment", id = order_id)]
pub struct ChargePayment {
    pub order_id: String,
}

#[derive(Default, Serialize, Deserialize)]
pub struct Saga;

#[process_manager(correlate = order_id, commands(ChargePayment))]
impl Saga {
    #[start]
    fn placed(&mut self, e: &OrderPlaced, ctx: &mut Context<Self>) -> SagaCommand {
        let timeout = PaymentTimedOut {
            order_id: e.order_id.clone(),
        };
        ctx.schedule(Duration::from_secs(60), timeout);
        ChargePayment {
            order_id: e.order_id.clone(),
        }
        .into()
    }

    #[stop(corelate = order_id)]
    fn timed_out(&mut self, _e: &PaymentTimedOut) {}

    #[on_error]
    fn failed(&mut self, _f: &CommandFailure) -> ErrorAction<SagaCommand> {
        ErrorAction::Compensate
    }
}

fn main() {
    let _ = <Saga as ProcessManager>::NAME;
    let _ = Saga::DIAGRAM;
    let _command: SagaCommand = ChargePayment {
        order_id: "o-1".into(),
    }
    .into();
}
