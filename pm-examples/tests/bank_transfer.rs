//! The transfer saga under the fixture, with the deposit deadline on its virtual clock.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use pm_examples::sagas::bank_transfer::*;
use pm_runtime::prelude::*;
use pm_runtime::testing::Fixture;

fn t1() -> String {
    "t-1".into()
}
fn requested() -> TransferRequested {
    TransferRequested {
        transfer_id: t1(),
        from: "alice".into(),
        to: "bob".into(),
        amount: 100,
    }
}
fn withdrawn() -> MoneyWithdrawn {
    MoneyWithdrawn { transfer_id: t1() }
}
fn refund() -> BankTransferCommand {
    RefundWithdrawal {
        transfer_id: t1(),
        account: "alice".into(),
        amount: 100,
    }
    .into()
}

#[test]
fn withdraw_then_deposit_then_done_and_the_deadline_is_cancelled() {
    Fixture::<BankTransfer>::new("t-1")
        .when(requested())
        .expect_commands([WithdrawMoney {
            transfer_id: t1(),
            account: "alice".into(),
            amount: 100,
        }
        .into()])
        .when(withdrawn())
        .expect_commands([DepositMoney {
            transfer_id: t1(),
            account: "bob".into(),
            amount: 100,
        }
        .into()])
        .expect_scheduled::<DepositDeadline>()
        .when(MoneyDeposited { transfer_id: t1() })
        .expect_completed()
        .expect_not_scheduled::<DepositDeadline>()
        .advance_time(DEPOSIT_DEADLINE * 2)
        .expect_no_commands()
        .expect_state(|s| assert_eq!(s.outcome, Outcome::Deposited));
}

#[test]
fn an_unconfirmed_deposit_is_refunded_at_the_deadline() {
    Fixture::<BankTransfer>::new("t-1")
        .given((requested(), withdrawn()))
        .advance_time(DEPOSIT_DEADLINE - Duration::from_millis(1))
        .expect_no_commands()
        .expect_running()
        .advance_time(Duration::from_millis(1))
        .expect_commands([refund()])
        .expect_completed()
        .expect_state(|s| {
            assert_eq!(s.outcome, Outcome::TimedOut);
            assert!(!s.withdrawn);
        })
        // A confirmation after the refund changes nothing.
        .when(MoneyDeposited { transfer_id: t1() })
        .expect_ignored();
}

#[test]
fn a_refused_deposit_compensates_the_withdrawal_and_drops_the_deadline() {
    Fixture::<BankTransfer>::new("t-1")
        .given((requested(), withdrawn()))
        .when_command_fails(
            DepositMoney::NAME,
            DispatchError::Rejected("account closed".into()),
        )
        .expect_compensation([refund()])
        .expect_compensated()
        .advance_time(DEPOSIT_DEADLINE)
        .expect_status(InstanceStatus::Compensated)
        .expect_no_commands()
        .expect_state(|s| assert_eq!(s.outcome, Outcome::Refused));
}
