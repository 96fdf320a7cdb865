//! The transfer saga: withdraw from one account, then deposit into the other. The deposit must
//! be confirmed before a deadline; when it never is, the withdrawal is refunded. A deposit the
//! bank refuses outright is compensated the same way, by the undo of the withdrawal.

use std::time::Duration;

use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

/// How long the receiving bank has to confirm a deposit.
pub const DEPOSIT_DEADLINE: Duration = Duration::from_secs(30);

/// A customer asked to move money.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct TransferRequested {
    /// The transfer, and the saga's process id.
    pub transfer_id: String,
    /// The account debited.
    pub from: String,
    /// The account credited.
    pub to: String,
    /// How much.
    pub amount: u64,
}
/// The money left the source account.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct MoneyWithdrawn {
    /// The transfer.
    pub transfer_id: String,
}
/// The receiving bank confirmed the deposit.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct MoneyDeposited {
    /// The transfer.
    pub transfer_id: String,
}
/// The deposit was not confirmed in time: a timeout the saga schedules for itself.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct DepositDeadline {
    /// The transfer.
    pub transfer_id: String,
}

/// Take money out of an account.
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "account", id = account)]
pub struct WithdrawMoney {
    /// The transfer.
    pub transfer_id: String,
    /// The account.
    pub account: String,
    /// How much.
    pub amount: u64,
}
/// Put money into an account.
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "account", id = account)]
pub struct DepositMoney {
    /// The transfer.
    pub transfer_id: String,
    /// The account.
    pub account: String,
    /// How much.
    pub amount: u64,
}
/// Give a withdrawal back (the undo of [`WithdrawMoney`]).
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "account", id = account)]
pub struct RefundWithdrawal {
    /// The transfer.
    pub transfer_id: String,
    /// The account.
    pub account: String,
    /// How much.
    pub amount: u64,
}

/// How a transfer ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Still under way.
    #[default]
    Pending,
    /// The money arrived.
    Deposited,
    /// The deposit was not confirmed in time; the withdrawal was refunded.
    TimedOut,
    /// The receiving bank refused the deposit; the withdrawal was refunded.
    Refused,
}

/// The saga's state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct BankTransfer {
    /// The account debited.
    pub from: String,
    /// The account credited.
    pub to: String,
    /// How much.
    pub amount: u64,
    /// Whether the money has left the source account (and was not refunded).
    pub withdrawn: bool,
    /// How it ended.
    pub outcome: Outcome,
}

#[process_manager(
    name = "bank_transfer",
    correlate = transfer_id,
    commands(WithdrawMoney, DepositMoney, RefundWithdrawal)
)]
impl BankTransfer {
    #[start(new)]
    fn requested(&mut self, e: &TransferRequested) -> WithdrawMoney {
        self.from = e.from.clone();
        self.to = e.to.clone();
        self.amount = e.amount;
        WithdrawMoney {
            transfer_id: e.transfer_id.clone(),
            account: e.from.clone(),
            amount: e.amount,
        }
    }

    #[handle]
    fn withdrawn(&mut self, e: &MoneyWithdrawn, ctx: &mut Context<Self>) -> DepositMoney {
        self.withdrawn = true;
        let transfer_id = e.transfer_id.clone();
        ctx.schedule(
            DEPOSIT_DEADLINE,
            DepositDeadline {
                transfer_id: transfer_id.clone(),
            },
        );
        DepositMoney {
            transfer_id,
            account: self.to.clone(),
            amount: self.amount,
        }
    }

    #[stop]
    fn deposited(&mut self, _e: &MoneyDeposited, ctx: &mut Context<Self>) {
        self.outcome = Outcome::Deposited;
        ctx.cancel::<DepositDeadline>();
    }

    #[handle]
    fn deadline(&mut self, e: &DepositDeadline, ctx: &mut Context<Self>) -> RefundWithdrawal {
        self.outcome = Outcome::TimedOut;
        self.withdrawn = false;
        ctx.stop();
        RefundWithdrawal {
            transfer_id: e.transfer_id.clone(),
            account: self.from.clone(),
            amount: self.amount,
        }
    }

    #[compensate(WithdrawMoney)]
    fn refund(&mut self, c: &WithdrawMoney) -> RefundWithdrawal {
        self.withdrawn = false;
        self.outcome = Outcome::Refused;
        RefundWithdrawal {
            transfer_id: c.transfer_id.clone(),
            account: c.account.clone(),
            amount: c.amount,
        }
    }
}
