//! The cqrs-es command side: the aggregate's rules, the feed's deterministic ids, and the
//! transfer saga running over it end to end.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use cqrs_es::mem_store::MemStore;
use pm_examples::cqrs_bank::*;
use pm_examples::sagas::bank_transfer::*;
use pm_runtime::prelude::*;
use tokio::sync::mpsc;
use uuid::Uuid;

async fn bank() -> (
    Arc<Accounts>,
    Balances,
    mpsc::UnboundedReceiver<EventEnvelope>,
) {
    let (feed, incoming) = RuntimeFeed::new();
    let balances = Balances::default();
    let accounts = Arc::new(Accounts::new(
        MemStore::default(),
        vec![Box::new(feed), Box::new(balances.clone())],
        (),
    ));
    for (account, balance) in [("alice", 500), ("bob", 0), ("carol", 0)] {
        accounts
            .execute(account, AccountCommand::Open { balance })
            .await
            .unwrap();
    }
    accounts
        .execute("carol", AccountCommand::Close)
        .await
        .unwrap();
    (accounts, balances, incoming)
}

#[tokio::test]
async fn the_aggregate_refuses_overdrafts_and_closed_accounts_and_dedupes_keys() {
    let (accounts, balances, _incoming) = bank().await;
    let key = Uuid::from_u128(1);
    let withdraw = |amount| AccountCommand::Withdraw {
        transfer_id: "t".into(),
        amount,
        key,
    };
    accounts.execute("alice", withdraw(100)).await.unwrap();
    accounts.execute("alice", withdraw(100)).await.unwrap();
    assert_eq!(
        balances.snapshot()["alice"],
        400,
        "the same key applies once"
    );
    let error = accounts
        .execute(
            "alice",
            AccountCommand::Withdraw {
                transfer_id: "t".into(),
                amount: 401,
                key: Uuid::from_u128(2),
            },
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("insufficient funds"), "{error}");
    let error = accounts
        .execute(
            "carol",
            AccountCommand::Deposit {
                transfer_id: "t".into(),
                amount: 1,
                key: Uuid::from_u128(3),
            },
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("closed"), "{error}");
}

#[test]
fn the_feed_gives_a_committed_event_the_same_id_every_time() {
    let event = AccountEvent::Withdrawn {
        transfer_id: "t-1".into(),
        amount: 5,
        key: Uuid::nil(),
    };
    let a = RuntimeFeed::translate("alice", 3, &event).unwrap();
    let b = RuntimeFeed::translate("alice", 3, &event).unwrap();
    assert_eq!(a.event_id, b.event_id);
    assert_ne!(
        a.event_id,
        RuntimeFeed::translate("alice", 4, &event).unwrap().event_id
    );
    assert_eq!(
        (a.event_type.as_ref(), a.position),
        ("MoneyWithdrawn", Some(3))
    );
    assert!(RuntimeFeed::translate("alice", 1, &AccountEvent::Closed).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_run_through_cqrs_es_and_compensate_a_refused_deposit() {
    let (accounts, balances, mut incoming) = bank().await;
    let runtime = Runtime::builder()
        .dispatcher(CqrsDispatcher::new(Arc::clone(&accounts)))
        .register::<BankTransfer>()
        .start()
        .await
        .unwrap();
    for (transfer_id, to, amount) in [
        ("t-1", "bob", 100),
        ("t-2", "carol", 50),
        ("t-3", "bob", 900),
    ] {
        runtime
            .publish(TransferRequested {
                transfer_id: transfer_id.into(),
                from: "alice".into(),
                to: to.into(),
                amount,
            })
            .await
            .unwrap();
    }
    loop {
        runtime.settled().await;
        let Ok(event) = incoming.try_recv() else {
            break;
        };
        runtime.publish_envelope(event).await.unwrap();
    }
    let status = |id: &'static str| {
        let runtime = runtime.clone();
        async move { runtime.status::<BankTransfer>(id).await.unwrap() }
    };
    assert_eq!(status("t-1").await, InstanceStatus::Completed);
    assert_eq!(status("t-2").await, InstanceStatus::Compensated);
    assert_eq!(status("t-3").await, InstanceStatus::Compensated);
    let t2: BankTransfer = runtime.state("t-2").await.unwrap();
    assert_eq!(t2.outcome, Outcome::Refused);
    let balances = balances.snapshot();
    assert_eq!(
        (balances["alice"], balances["bob"], balances["carol"]),
        (400, 100, 0),
        "the refund gave t-2 back; t-3 never took anything"
    );
    runtime.shutdown().await.unwrap();
}
