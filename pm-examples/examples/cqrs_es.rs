//! The transfer saga over a real cqrs-es command side: `BankAccount` is a cqrs-es aggregate
//! on its in-memory event store; a cqrs-es `Query` hands its committed events to the runtime;
//! the saga's commands run through `CqrsFramework::execute`.
//!
//! `cargo run -p pm-examples --example cqrs_es`
//!
//! `t-1` moves 100 from alice to bob. `t-2` moves 50 to carol, whose account is closed: the
//! deposit is refused, so the saga refunds alice. `t-3` asks alice for more than she has: the
//! withdrawal is refused and there is nothing to undo. The aggregate, the query and the
//! dispatcher are `pm_examples::cqrs_bank`; the saga is `pm_examples::sagas::bank_transfer`.

use std::sync::Arc;

use pm_examples::cqrs_bank::{AccountCommand, Accounts, Balances, CqrsDispatcher, RuntimeFeed};
use pm_examples::sagas::bank_transfer::*;
use pm_examples::trace::publish_all;
use pm_runtime::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (feed, mut incoming) = RuntimeFeed::new();
    let balances = Balances::default();
    let accounts = Arc::new(Accounts::new(
        cqrs_es::mem_store::MemStore::default(),
        vec![Box::new(feed), Box::new(balances.clone())],
        (),
    ));
    for (account, balance) in [("alice", 500), ("bob", 0), ("carol", 0)] {
        accounts
            .execute(account, AccountCommand::Open { balance })
            .await?;
    }
    accounts.execute("carol", AccountCommand::Close).await?;

    let mut dispatcher = CqrsDispatcher::new(Arc::clone(&accounts));
    dispatcher.verbose = true;
    let runtime = Runtime::builder()
        .dispatcher(dispatcher)
        .register::<BankTransfer>()
        .start()
        .await?;

    for (transfer_id, to, amount) in [
        ("t-1", "bob", 100),
        ("t-2", "carol", 50),
        ("t-3", "bob", 1000),
    ] {
        println!("request  transfer {transfer_id}: {amount} from alice to {to}");
        runtime
            .publish(TransferRequested {
                transfer_id: transfer_id.into(),
                from: "alice".into(),
                to: to.into(),
                amount,
            })
            .await?;
        // Events the aggregates commit come back through the query, one at a time.
        publish_all::<BankTransfer>(&runtime, &mut incoming, "transfer_id").await?;
    }

    println!();
    for transfer_id in ["t-1", "t-2", "t-3"] {
        let status = runtime.status::<BankTransfer>(transfer_id).await?;
        let state: BankTransfer = runtime.state(transfer_id).await?;
        println!(
            "saga bank_transfer/{transfer_id}: {status} ({:?})",
            state.outcome
        );
    }
    for (account, balance) in balances.snapshot() {
        println!("account {account}: {balance}");
    }
    runtime.shutdown().await?;
    Ok(())
}
