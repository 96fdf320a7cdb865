//! A [cqrs-es](https://docs.rs/cqrs-es) command side for the transfer saga
//! ([`sagas::bank_transfer`](crate::sagas::bank_transfer)).
//!
//! - [`BankAccount`] is a cqrs-es `Aggregate`: it executes withdrawals, deposits and refunds,
//!   refusing an overdraft or a closed account, and deduplicating on the command's
//!   idempotency key.
//! - [`RuntimeFeed`] is a cqrs-es `Query`: cqrs-es calls it with every committed event, and it
//!   turns the events the saga cares about into [`EventEnvelope`]s with deterministic ids (so a
//!   redelivery is recognised), for the application to publish to the runtime.
//! - [`CqrsDispatcher`] is the runtime's `CommandDispatcher`: it executes each saga command
//!   through `CqrsFramework::execute`, mapping a business refusal to
//!   `DispatchError::Rejected` (the saga compensates) and anything else to
//!   `DispatchError::Unavailable` (the runtime retries).
//!
//! The feed hands events over after cqrs-es committed them, in the same process; with a
//! durable event store, feed the runtime from the store's log instead, so that a crash between
//! the commit and the hand-over loses nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use cqrs_es::event_sink::EventSink;
use cqrs_es::mem_store::MemStore;
use cqrs_es::{Aggregate, AggregateError, CqrsFramework, DomainEvent, Query};
use pm_runtime::{CommandDispatcher, CommandEnvelope, DispatchError, EventEnvelope};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::sagas::bank_transfer::{
    DepositMoney, MoneyDeposited, MoneyWithdrawn, RefundWithdrawal, WithdrawMoney,
};

/// The commands a [`BankAccount`] executes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountCommand {
    /// Opens the account with a first deposit.
    Open {
        /// The opening balance.
        balance: u64,
    },
    /// Closes the account: it takes no more deposits.
    Close,
    /// Takes money out for a transfer.
    Withdraw {
        /// The transfer.
        transfer_id: String,
        /// How much.
        amount: u64,
        /// The saga command's idempotency key.
        key: Uuid,
    },
    /// Puts money in for a transfer.
    Deposit {
        /// The transfer.
        transfer_id: String,
        /// How much.
        amount: u64,
        /// The saga command's idempotency key.
        key: Uuid,
    },
    /// Gives back the money a transfer took out.
    Refund {
        /// The transfer.
        transfer_id: String,
        /// How much.
        amount: u64,
        /// The saga command's idempotency key.
        key: Uuid,
    },
}

/// What happened to a [`BankAccount`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountEvent {
    /// The account was opened.
    Opened {
        /// The opening balance.
        balance: u64,
    },
    /// The account was closed.
    Closed,
    /// Money left for a transfer.
    Withdrawn {
        /// The transfer.
        transfer_id: String,
        /// How much.
        amount: u64,
        /// The idempotency key of the command that caused it.
        key: Uuid,
    },
    /// Money arrived from a transfer.
    Deposited {
        /// The transfer.
        transfer_id: String,
        /// How much.
        amount: u64,
        /// The idempotency key of the command that caused it.
        key: Uuid,
    },
    /// A transfer's withdrawal was given back.
    Refunded {
        /// The transfer.
        transfer_id: String,
        /// How much.
        amount: u64,
        /// The idempotency key of the command that caused it.
        key: Uuid,
    },
}

impl DomainEvent for AccountEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Opened { .. } => "Opened",
            Self::Closed => "Closed",
            Self::Withdrawn { .. } => "Withdrawn",
            Self::Deposited { .. } => "Deposited",
            Self::Refunded { .. } => "Refunded",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a [`BankAccount`] refused a command: a business rule, so the saga compensates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// The account was never opened.
    #[error("the account is not open")]
    NotOpen,
    /// The account is closed.
    #[error("the account is closed")]
    Closed,
    /// The balance does not cover the withdrawal.
    #[error("insufficient funds: the balance is {balance}, {amount} asked")]
    InsufficientFunds {
        /// The balance.
        balance: u64,
        /// The amount asked.
        amount: u64,
    },
}

/// A bank account, event-sourced by cqrs-es.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct BankAccount {
    /// Whether it was opened.
    pub open: bool,
    /// Whether it was closed.
    pub closed: bool,
    /// The balance.
    pub balance: u64,
    /// Idempotency keys already executed: a command sent twice changes the account once.
    pub seen: HashSet<Uuid>,
}

impl Aggregate for BankAccount {
    const TYPE: &'static str = "account";
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Error = AccountError;
    type Services = ();

    async fn handle(
        &mut self,
        command: AccountCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), AccountError> {
        let event = match command {
            AccountCommand::Open { balance } => AccountEvent::Opened { balance },
            AccountCommand::Close => AccountEvent::Closed,
            AccountCommand::Withdraw { key, .. }
            | AccountCommand::Deposit { key, .. }
            | AccountCommand::Refund { key, .. }
                if self.seen.contains(&key) =>
            {
                return Ok(());
            }
            _ if !self.open => return Err(AccountError::NotOpen),
            AccountCommand::Withdraw {
                transfer_id,
                amount,
                key,
            } => {
                if amount > self.balance {
                    return Err(AccountError::InsufficientFunds {
                        balance: self.balance,
                        amount,
                    });
                }
                AccountEvent::Withdrawn {
                    transfer_id,
                    amount,
                    key,
                }
            }
            AccountCommand::Deposit { .. } if self.closed => return Err(AccountError::Closed),
            AccountCommand::Deposit {
                transfer_id,
                amount,
                key,
            } => AccountEvent::Deposited {
                transfer_id,
                amount,
                key,
            },
            // A refund is owed even to a closed account.
            AccountCommand::Refund {
                transfer_id,
                amount,
                key,
            } => AccountEvent::Refunded {
                transfer_id,
                amount,
                key,
            },
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: AccountEvent) {
        match event {
            AccountEvent::Opened { balance } => {
                self.open = true;
                self.balance = balance;
            }
            AccountEvent::Closed => self.closed = true,
            AccountEvent::Withdrawn { amount, key, .. } => {
                self.balance -= amount;
                self.seen.insert(key);
            }
            AccountEvent::Deposited { amount, key, .. }
            | AccountEvent::Refunded { amount, key, .. } => {
                self.balance += amount;
                self.seen.insert(key);
            }
        }
    }
}

/// The cqrs-es framework of [`BankAccount`]s, on cqrs-es's in-memory event store.
pub type Accounts = CqrsFramework<BankAccount, MemStore<BankAccount>>;

/// Namespace of the ids the feed gives events: UUIDv5 over the stream and sequence, so the
/// same committed event always gets the same id.
const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x7a4e_1c02_93d8_4f5b_b0c6_2e8d_41a7_f395);

/// A cqrs-es `Query` that hands the saga's events to the runtime's side of a channel.
#[derive(Debug)]
pub struct RuntimeFeed {
    events: mpsc::UnboundedSender<EventEnvelope>,
}

impl RuntimeFeed {
    /// A feed and the receiver the application publishes from.
    ///
    /// Unbounded because cqrs-es calls queries without backpressure; each event is small and
    /// the application drains the receiver as fast as the runtime takes events.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<EventEnvelope>) {
        let (events, incoming) = mpsc::unbounded_channel();
        (Self { events }, incoming)
    }

    /// The runtime event for one committed account event, if the saga cares about it.
    pub fn translate(
        aggregate_id: &str,
        sequence: usize,
        event: &AccountEvent,
    ) -> Option<EventEnvelope> {
        let name = format!("{}/{aggregate_id}/{sequence}", BankAccount::TYPE);
        let event_id = Uuid::new_v5(&EVENT_ID_NAMESPACE, name.as_bytes());
        let mut envelope = match event {
            AccountEvent::Withdrawn { transfer_id, .. } => EventEnvelope::with_id(
                event_id,
                MoneyWithdrawn {
                    transfer_id: transfer_id.clone(),
                },
            ),
            AccountEvent::Deposited { transfer_id, .. } => EventEnvelope::with_id(
                event_id,
                MoneyDeposited {
                    transfer_id: transfer_id.clone(),
                },
            ),
            _ => return None,
        };
        envelope.stream_id = Some(format!("{}-{aggregate_id}", BankAccount::TYPE));
        envelope.position = Some(sequence as u64);
        Some(envelope)
    }
}

#[async_trait]
impl Query<BankAccount> for RuntimeFeed {
    async fn dispatch(&self, aggregate_id: &str, events: &[cqrs_es::EventEnvelope<BankAccount>]) {
        for committed in events {
            let translated = Self::translate(aggregate_id, committed.sequence, &committed.payload);
            if let Some(event) = translated {
                // The receiver only goes away when the application is shutting down.
                let _ = self.events.send(event);
            }
        }
    }
}

/// A cqrs-es `Query` keeping every account's balance, for the example's summary.
#[derive(Debug, Clone, Default)]
pub struct Balances(Arc<Mutex<BTreeMap<String, u64>>>);

impl Balances {
    /// Every account with its balance, by account id.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl Query<BankAccount> for Balances {
    async fn dispatch(&self, aggregate_id: &str, events: &[cqrs_es::EventEnvelope<BankAccount>]) {
        let mut balances = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let balance = balances.entry(aggregate_id.to_owned()).or_default();
        for committed in events {
            match &committed.payload {
                AccountEvent::Opened { balance: b } => *balance = *b,
                AccountEvent::Withdrawn { amount, .. } => *balance -= amount,
                AccountEvent::Deposited { amount, .. } | AccountEvent::Refunded { amount, .. } => {
                    *balance += amount;
                }
                AccountEvent::Closed => {}
            }
        }
    }
}

/// The runtime's [`CommandDispatcher`]: executes the saga's commands on [`BankAccount`]s
/// through cqrs-es.
pub struct CqrsDispatcher {
    accounts: Arc<Accounts>,
    /// Prints each command and its outcome, for the example's trace.
    pub verbose: bool,
}

impl std::fmt::Debug for CqrsDispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CqrsDispatcher")
            .field("verbose", &self.verbose)
            .finish_non_exhaustive()
    }
}

impl CqrsDispatcher {
    /// A dispatcher executing on `accounts`.
    pub fn new(accounts: Arc<Accounts>) -> Self {
        Self {
            accounts,
            verbose: false,
        }
    }

    /// The account command for a saga command, or a rejection for one it does not know.
    fn translate(command: &CommandEnvelope) -> Result<AccountCommand, DispatchError> {
        let key = command.idempotency_key;
        let malformed = |e: pm_runtime::PayloadError| DispatchError::Rejected(e.to_string());
        if command.is::<WithdrawMoney>() {
            let c = command.decode::<WithdrawMoney>().map_err(malformed)?;
            return Ok(AccountCommand::Withdraw {
                transfer_id: c.transfer_id.clone(),
                amount: c.amount,
                key,
            });
        }
        if command.is::<DepositMoney>() {
            let c = command.decode::<DepositMoney>().map_err(malformed)?;
            return Ok(AccountCommand::Deposit {
                transfer_id: c.transfer_id.clone(),
                amount: c.amount,
                key,
            });
        }
        if command.is::<RefundWithdrawal>() {
            let c = command.decode::<RefundWithdrawal>().map_err(malformed)?;
            return Ok(AccountCommand::Refund {
                transfer_id: c.transfer_id.clone(),
                amount: c.amount,
                key,
            });
        }
        Err(DispatchError::Rejected(format!(
            "no account command for `{}`",
            command.command_type
        )))
    }
}

impl CommandDispatcher for CqrsDispatcher {
    async fn dispatch(&self, command: &CommandEnvelope) -> Result<(), DispatchError> {
        let account_command = Self::translate(command)?;
        let metadata = HashMap::from([
            ("command_id".to_owned(), command.command_id.to_string()),
            ("correlation_id".to_owned(), command.correlation_id.clone()),
        ]);
        let result = self
            .accounts
            .execute_with_metadata(&command.aggregate_id, account_command, metadata)
            .await
            .map_err(|error| match error {
                AggregateError::UserError(refusal) => DispatchError::Rejected(refusal.to_string()),
                other => DispatchError::Unavailable(other.to_string()),
            });
        if self.verbose {
            let (kind, id) = (&command.command_type, &command.aggregate_id);
            match &result {
                Ok(()) => println!("  command  {kind:<16} -> account/{id}: executed by cqrs-es"),
                Err(error) => println!("  command  {kind:<16} -> account/{id}: {error}"),
            }
        }
        result
    }
}
