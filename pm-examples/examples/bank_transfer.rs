//! The transfer saga end to end: withdraw, then deposit, which the receiving bank must confirm
//! within 30 seconds. `t-1` goes through; the bank of `t-2` never confirms, so the deadline
//! fires and the withdrawal is refunded; the bank of `t-3` refuses the deposit, so the saga
//! compensates the withdrawal at once.
//!
//! `cargo run -p pm-examples --example bank_transfer`
//!
//! Time is a `ManualClock`: the example moves it past the deadline instead of waiting. The
//! saga is `pm_examples::sagas::bank_transfer`; `tests/bank_transfer.rs` tests it with the
//! fixture.

use std::sync::Arc;

use pm_examples::sagas::bank_transfer::*;
use pm_examples::trace::{Answer, Simulated, print_state, publish_all};
use pm_runtime::ManualClock;
use pm_runtime::prelude::*;

/// The banks: withdrawals succeed; `bob`'s bank confirms deposits, `carol`'s accepts them but
/// never confirms, `dave`'s account is closed.
fn command_side(command: &CommandEnvelope) -> Answer {
    let transfer_id = command
        .payload
        .to_json()
        .ok()
        .and_then(|p| Some(p.get("transfer_id")?.as_str()?.to_owned()))
        .unwrap_or_default();
    if command.is::<WithdrawMoney>() {
        return Ok(Some(EventEnvelope::new(MoneyWithdrawn { transfer_id })));
    }
    if command.is::<DepositMoney>() {
        return match command.aggregate_id.as_str() {
            "bob" => Ok(Some(EventEnvelope::new(MoneyDeposited { transfer_id }))),
            "dave" => Err(DispatchError::Rejected("account closed".into())),
            _ => Ok(None),
        };
    }
    Ok(None)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clock = ManualClock::new(0);
    let (side, mut incoming) = Simulated::new(command_side);
    let side = Arc::new(side);
    let runtime = Runtime::builder()
        .dispatcher(Arc::clone(&side))
        .clock(clock.clone())
        .register::<BankTransfer>()
        .start()
        .await?;

    for (transfer_id, to, amount) in [
        ("t-1", "bob", 100),
        ("t-2", "carol", 250),
        ("t-3", "dave", 75),
    ] {
        side.emit(TransferRequested {
            transfer_id: transfer_id.into(),
            from: "alice".into(),
            to: to.into(),
            amount,
        })?;
    }
    publish_all::<BankTransfer>(&runtime, &mut incoming, "transfer_id").await?;

    println!(
        "clock    +{}s: the deposit deadline passes",
        DEPOSIT_DEADLINE.as_secs()
    );
    clock.advance(DEPOSIT_DEADLINE);
    runtime.settled().await;
    print_state::<BankTransfer>(&runtime, "t-2").await?;
    publish_all::<BankTransfer>(&runtime, &mut incoming, "transfer_id").await?;

    println!();
    for transfer_id in ["t-1", "t-2", "t-3"] {
        let status = runtime.status::<BankTransfer>(transfer_id).await?;
        let state: BankTransfer = runtime.state(transfer_id).await?;
        println!(
            "saga bank_transfer/{transfer_id}: {status} ({:?})",
            state.outcome
        );
    }
    let stats = runtime.stats();
    println!(
        "events handled={} timeouts fired={} commands dispatched={}",
        stats.handled, stats.timers_fired, stats.commands_dispatched
    );
    runtime.shutdown().await?;
    Ok(())
}
