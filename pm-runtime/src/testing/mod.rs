//! A test fixture for process managers: given events, when an event (a failed command, some
//! time passing), expect commands, state and lifecycle, in the manner of Axon's
//! `SagaTestFixture` and NServiceBus's `TestableSaga`.
//!
//! [`Fixture`] drives one instance's handlers directly: no tokio runtime, no store, no
//! dispatcher. It applies the runtime's rules as the runtime does: the lifecycle roles
//! (`#[start]`, `#[stop]`, missing instances, finished ones), deduplication by event id, the
//! `#[on_error]` decision and the default error policy, compensation of the completed
//! commands newest first, and durable timeouts on a virtual clock that only
//! [`Fixture::advance_time`] moves. It also checks what a unit test calling the handlers by
//! hand would miss: every event must correlate to the fixture's instance, and the state is
//! serialised and read back after each handled event, as the store does.
//!
//! The fixture assumes the command side accepts every command, in order, once the next
//! step begins; [`Fixture::when_command_fails`] says otherwise for one of them.
//!
//! ```
//! use pm_runtime::prelude::*;
//! use pm_runtime::testing::Fixture;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, Serialize, Deserialize, Event)]
//! struct OrderPlaced { order_id: String, amount: u64 }
//! #[derive(Debug, Clone, Serialize, Deserialize, Event)]
//! struct PaymentCharged { order_id: String }
//!
//! #[derive(Debug, Clone, Serialize, Deserialize, Command)]
//! #[command(aggregate = "payment", id = order_id)]
//! struct ChargePayment { order_id: String, amount: u64 }
//! #[derive(Debug, Clone, Serialize, Deserialize, Command)]
//! #[command(aggregate = "payment", id = order_id)]
//! struct RefundPayment { order_id: String, amount: u64 }
//! #[derive(Debug, Clone, Serialize, Deserialize, Command)]
//! #[command(aggregate = "stock", id = order_id)]
//! struct ReserveStock { order_id: String }
//!
//! #[derive(Debug, Default, Serialize, Deserialize)]
//! struct Order { charged: bool }
//!
//! #[process_manager(name = "order", correlate = order_id,
//!                   commands(ChargePayment, RefundPayment, ReserveStock))]
//! impl Order {
//!     #[start]
//!     fn placed(&mut self, e: &OrderPlaced) -> ChargePayment {
//!         ChargePayment { order_id: e.order_id.clone(), amount: e.amount }
//!     }
//!     #[handle]
//!     fn charged(&mut self, e: &PaymentCharged) -> ReserveStock {
//!         self.charged = true;
//!         ReserveStock { order_id: e.order_id.clone() }
//!     }
//!     #[compensate(ChargePayment)]
//!     fn refund(&mut self, c: &ChargePayment) -> RefundPayment {
//!         RefundPayment { order_id: c.order_id.clone(), amount: c.amount }
//!     }
//! }
//!
//! let placed = OrderPlaced { order_id: "o-1".into(), amount: 40 };
//! Fixture::<Order>::new("o-1")
//!     .given([placed])
//!     .when(PaymentCharged { order_id: "o-1".into() })
//!     .expect_commands([ReserveStock { order_id: "o-1".into() }.into()])
//!     .expect_state(|s| assert!(s.charged))
//!     .when_command_fails(ReserveStock::NAME, DispatchError::Rejected("out of stock".into()))
//!     .expect_compensation([RefundPayment { order_id: "o-1".into(), amount: 40 }.into()])
//!     .expect_compensated();
//! ```

mod report;
mod steps;

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use uuid::Uuid;

use crate::dispatch::RetryPolicy;
use crate::envelope::{CommandEnvelope, EventEnvelope};
use crate::error::{DispatchError, HandlerError};
use crate::ids::ProcessId;
use crate::message::Event;
use crate::process_manager::{ProcessManager, Role};
use crate::status::InstanceStatus;
use crate::store::Timer;

use self::report::{actual_parts, compare, expected_parts};
use crate::outgoing::millis;

/// One event as the fixture takes it: a typed event (given a fresh id) or a whole envelope.
pub trait IntoEvent {
    /// The event in its envelope.
    fn into_event(self) -> EventEnvelope;
}

impl<E: Event> IntoEvent for E {
    fn into_event(self) -> EventEnvelope {
        EventEnvelope::new(self)
    }
}

impl IntoEvent for EventEnvelope {
    fn into_event(self) -> EventEnvelope {
        self
    }
}

/// Several events, in order, for [`Fixture::given`]: an array or a `Vec` of one event type
/// (or of envelopes), or a tuple of up to eight events of different types.
pub trait Events {
    /// The events in their envelopes, in order.
    fn into_events(self) -> Vec<EventEnvelope>;
}

impl<T: IntoEvent, const N: usize> Events for [T; N] {
    fn into_events(self) -> Vec<EventEnvelope> {
        self.into_iter().map(IntoEvent::into_event).collect()
    }
}

impl<T: IntoEvent> Events for Vec<T> {
    fn into_events(self) -> Vec<EventEnvelope> {
        self.into_iter().map(IntoEvent::into_event).collect()
    }
}

macro_rules! tuple_events {
    ($($name:ident),+) => {
        impl<$($name: IntoEvent),+> Events for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_events(self) -> Vec<EventEnvelope> {
                let ($($name,)+) = self;
                vec![$($name.into_event()),+]
            }
        }
    };
}
tuple_events!(A);
tuple_events!(A, B);
tuple_events!(A, B, C);
tuple_events!(A, B, C, D);
tuple_events!(A, B, C, D, E);
tuple_events!(A, B, C, D, E, F);
tuple_events!(A, B, C, D, E, F, G);
tuple_events!(A, B, C, D, E, F, G, H);

/// Picks the command that fails in [`Fixture::when_command_fails`]: a command type name
/// (`ReserveStock::NAME`: the first such command waiting) or an envelope (that very command).
pub trait WhichCommand {
    /// Whether `command` is the one meant.
    fn is(&self, command: &CommandEnvelope) -> bool;
    /// How failure messages name it.
    fn describe(&self) -> String;
}

impl WhichCommand for &str {
    fn is(&self, command: &CommandEnvelope) -> bool {
        command.command_type == *self
    }
    fn describe(&self) -> String {
        format!("`{self}`")
    }
}

impl WhichCommand for &CommandEnvelope {
    fn is(&self, command: &CommandEnvelope) -> bool {
        command.command_id == self.command_id
    }
    fn describe(&self) -> String {
        format!("`{}` ({})", self.command_type, self.command_id)
    }
}

/// What the last step did, for expectations and failure messages.
#[derive(Debug)]
enum Outcome {
    /// No step has run yet, or only `given`.
    None,
    /// The handler ran and its effects were applied.
    Handled,
    /// The event was not handled; the reason is said in messages.
    Ignored(&'static str),
    /// A routing rule refused the event (`#[start(new)]` twice, `missing = "error"`).
    Refused(&'static str),
    /// The handler returned an error or panicked; the state was left as it was.
    Failed(HandlerError),
    /// A failed command was decided on: `retry`, `compensate`, `continue`, `skip`, `park`.
    Decided(&'static str),
    /// Time passed; this many timeouts fired.
    Fired(usize),
}

/// The last step: what it was, how it went, and the commands it sent.
#[derive(Debug)]
struct Step {
    what: String,
    outcome: Outcome,
    commands: Vec<CommandEnvelope>,
}

/// Drives one instance of process manager `P` through its handlers, with a virtual clock.
///
/// Build it with [`Fixture::new`], set up history with [`given`](Fixture::given), act with
/// [`when`](Fixture::when), [`when_command_fails`](Fixture::when_command_fails) or
/// [`advance_time`](Fixture::advance_time), and check with the `expect_*` methods. Every
/// method takes and returns the fixture, so a scenario reads as one chain, and the
/// expectations apply to the last step. A failed expectation panics with what was expected
/// beside what happened: the commands by type and JSON payload, so commands need not
/// implement `PartialEq`.
///
/// Commands a step sends wait in the outbox and are accepted by the command side when the
/// next step begins, in order; compensation therefore undoes the commands sent by earlier
/// steps, newest first, as the runtime does.
pub struct Fixture<P: ProcessManager> {
    id: ProcessId,
    state: P,
    exists: bool,
    status: InstanceStatus,
    now_ms: u64,
    handled: HashSet<Uuid>,
    outbox: VecDeque<CommandEnvelope>,
    completed: Vec<CommandEnvelope>,
    timers: Vec<Timer>,
    stash: Vec<EventEnvelope>,
    retry: RetryPolicy,
    last: Step,
}

impl<P: ProcessManager> std::fmt::Debug for Fixture<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture")
            .field("pm", &P::NAME)
            .field("process_id", &self.id)
            .field("status", &self.status)
            .field("now_ms", &self.now_ms)
            .field("outbox", &self.outbox.len())
            .field("completed", &self.completed.len())
            .field("timers", &self.timers.len())
            .finish_non_exhaustive()
    }
}

impl<P: ProcessManager> Fixture<P> {
    /// A fixture for instance `id` of `P`, not yet started, with the virtual clock at 0 and
    /// the runtime's default command retry policy.
    pub fn new(id: impl Into<ProcessId>) -> Self {
        let id = id.into();
        Self {
            state: P::init(&id),
            id,
            exists: false,
            status: InstanceStatus::Running,
            now_ms: 0,
            handled: HashSet::new(),
            outbox: VecDeque::new(),
            completed: Vec::new(),
            timers: Vec::new(),
            stash: Vec::new(),
            retry: RetryPolicy::default(),
            last: Step {
                what: "nothing".into(),
                outcome: Outcome::None,
                commands: Vec::new(),
            },
        }
    }

    /// The command retry policy the default error decision follows (the runtime's
    /// `command_retry`); only matters for failures without an `#[on_error]` answer.
    pub fn command_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = RetryPolicy {
            max_attempts: policy.max_attempts.max(1),
            ..policy
        };
        self
    }

    /// History: handles `events` in order. Each must be handled (panics otherwise, naming the
    /// event and why); the commands they send count as accepted before the next step, except
    /// that those of the last event stay in the outbox so a following
    /// [`when_command_fails`](Fixture::when_command_fails) can fail one.
    ///
    /// Takes an array or `Vec` of one event type, or a tuple of different ones:
    /// `given((OrderPlaced { .. }, PaymentCharged { .. }))`.
    #[track_caller]
    pub fn given(mut self, events: impl Events) -> Self {
        for event in events.into_events() {
            let what = format!("given `{}`", event.event_type);
            self.deliver(event, what);
            match &self.last.outcome {
                Outcome::Handled => {}
                Outcome::Failed(error) => {
                    panic!("{}: the handler failed: {error}", self.header())
                }
                Outcome::Ignored(why) | Outcome::Refused(why) => {
                    panic!("{}: the event was not handled: {why}", self.header())
                }
                Outcome::None | Outcome::Decided(_) | Outcome::Fired(_) => {}
            }
        }
        self
    }

    /// The step under test: delivers one event, as `publish` would deliver it to this
    /// instance. Its handler's commands are what [`expect_commands`](Fixture::expect_commands)
    /// checks next. An event that is ignored, refused or whose handler fails does not panic
    /// here: expect that with [`expect_ignored`](Fixture::expect_ignored) or
    /// [`expect_handler_error`](Fixture::expect_handler_error).
    #[track_caller]
    pub fn when(mut self, event: impl IntoEvent) -> Self {
        let event = event.into_event();
        let what = format!("when `{}`", event.event_type);
        self.deliver(event, what);
        self
    }

    /// The command side refuses (or cannot take) a command waiting in the outbox: the first of
    /// a type (`ReserveStock::NAME`), or an envelope taken from
    /// [`commands`](Fixture::commands). the commands ahead of it are accepted, then the instance decides
    /// as the runtime would on the first attempt: its `#[on_error]` handler, or the default
    /// policy (retry a transient failure, compensate a rejection). On `Compensate`, the
    /// compensations of every accepted command are the step's commands, newest first; check
    /// them with [`expect_compensation`](Fixture::expect_compensation).
    ///
    /// Panics when no such command is waiting, listing the outbox.
    #[track_caller]
    pub fn when_command_fails(self, command: impl WhichCommand, error: DispatchError) -> Self {
        self.fail_command(&command, error, false)
    }

    /// Like [`when_command_fails`](Fixture::when_command_fails), but the command keeps failing:
    /// attempts follow while the decision is `Retry`, so the step ends with the decision made
    /// once retries are exhausted (by default, compensation after the retry policy's last
    /// attempt).
    #[track_caller]
    pub fn when_command_keeps_failing(
        self,
        command: impl WhichCommand,
        error: DispatchError,
    ) -> Self {
        self.fail_command(&command, error, true)
    }

    /// Moves the virtual clock forward by `by`, firing every timeout that falls due, earliest
    /// first, each through its handler as the runtime delivers it. The step's commands are
    /// those of every handler that ran.
    #[track_caller]
    pub fn advance_time(mut self, by: Duration) -> Self {
        self.settle();
        let until = self.now_ms.saturating_add(millis(by));
        let mut commands = Vec::new();
        let mut fired = 0;
        let mut failure = None;
        while let Some(at) = self.next_due(until) {
            let timer = self.timers.remove(at);
            self.now_ms = self.now_ms.max(timer.due_at_ms);
            if !self.status.accepts_events() && self.status != InstanceStatus::Parked {
                continue;
            }
            fired += 1;
            let what = format!("timeout `{}`", timer.event.event_type);
            let role = match self.role_of(&timer.event) {
                Some(Role::StartNew) | None => Role::Start,
                Some(role) => role,
            };
            self.handle(timer.event, role, true, what);
            commands.append(&mut self.last.commands);
            if let Outcome::Failed(error) = std::mem::replace(&mut self.last.outcome, Outcome::None)
            {
                failure = Some(error);
                break;
            }
        }
        self.now_ms = self.now_ms.max(until);
        self.last = Step {
            what: format!("advance_time({by:?})"),
            outcome: failure.map_or(Outcome::Fired(fired), Outcome::Failed),
            commands,
        };
        self
    }

    /// Checks the commands the last step sent, in order, by type and JSON payload.
    ///
    /// Pass the process manager's command enum: `[ChargePayment { .. }.into()]`.
    #[track_caller]
    pub fn expect_commands(self, expected: impl IntoIterator<Item = P::Command>) -> Self {
        let expected: Vec<(String, serde_json::Value)> =
            expected.into_iter().map(expected_parts).collect();
        let actual: Vec<(String, serde_json::Value)> =
            self.last.commands.iter().map(actual_parts).collect();
        if expected != actual {
            let note = match &self.last.outcome {
                Outcome::Handled | Outcome::None | Outcome::Fired(_) | Outcome::Decided(_) => {
                    String::new()
                }
                _ => format!("  note: {}\n", self.outcome_text()),
            };
            panic!(
                "{}: the commands differ\n{}{note}",
                self.header(),
                compare(&expected, &actual)
            );
        }
        self
    }

    /// Checks that the last step sent no command.
    #[track_caller]
    pub fn expect_no_commands(self) -> Self {
        self.expect_commands([])
    }

    /// Checks that the last step aborted the saga and sent these compensations, newest
    /// completed command first.
    #[track_caller]
    pub fn expect_compensation(self, expected: impl IntoIterator<Item = P::Command>) -> Self {
        if !matches!(self.last.outcome, Outcome::Decided("compensate")) {
            panic!(
                "{}: expected the saga to compensate, but {}",
                self.header(),
                self.outcome_text()
            );
        }
        self.expect_commands(expected)
    }

    /// Checks that the last failed command is to be tried again (`ErrorAction::Retry`).
    #[track_caller]
    pub fn expect_retry(self) -> Self {
        if !matches!(self.last.outcome, Outcome::Decided("retry")) {
            panic!(
                "{}: expected the failed command to be retried, but {}",
                self.header(),
                self.outcome_text()
            );
        }
        self
    }

    /// Runs `check` on the state (write the assertions inside it).
    pub fn expect_state(self, check: impl FnOnce(&P)) -> Self {
        check(&self.state);
        self
    }

    /// Checks that the instance has stopped normally (`#[stop]` or `ctx.stop()`): it is
    /// `Completing` (its last commands are waiting) or `Completed`.
    #[track_caller]
    pub fn expect_completed(self) -> Self {
        self.expect_status_in(
            &[InstanceStatus::Completing, InstanceStatus::Completed],
            "completed",
        )
    }

    /// Checks that the saga aborted: `Compensating` (its compensations are waiting) or
    /// `Compensated`.
    #[track_caller]
    pub fn expect_compensated(self) -> Self {
        self.expect_status_in(
            &[InstanceStatus::Compensating, InstanceStatus::Compensated],
            "compensated",
        )
    }

    /// Checks the instance's status as the runtime would store it now.
    #[track_caller]
    pub fn expect_status(self, status: InstanceStatus) -> Self {
        self.expect_status_in(&[status], status.as_str())
    }

    /// Checks that the instance is still running (it takes events).
    #[track_caller]
    pub fn expect_running(self) -> Self {
        self.expect_status(InstanceStatus::Running)
    }

    /// Checks that the last event was not handled: a duplicate, an event for a missing or
    /// finished instance, or one held because the instance is parked.
    #[track_caller]
    pub fn expect_ignored(self) -> Self {
        if !matches!(self.last.outcome, Outcome::Ignored(_)) {
            panic!(
                "{}: expected the event to be ignored, but {}",
                self.header(),
                self.outcome_text()
            );
        }
        self
    }

    /// Checks that a routing rule refused the last event, as `publish` would report with
    /// `Error::Refused`: a `#[start(new)]` event for an existing instance, or a continuing
    /// event for a missing one under `missing = "error"`.
    #[track_caller]
    pub fn expect_refused(self) -> Self {
        if !matches!(self.last.outcome, Outcome::Refused(_)) {
            panic!(
                "{}: expected the event to be refused, but {}",
                self.header(),
                self.outcome_text()
            );
        }
        self
    }

    /// Checks that the last event's handler failed (returned `Err` or panicked) and runs
    /// `check` on the error. The state is as it was before the event; the runtime would
    /// retry the handler, then park the instance.
    #[track_caller]
    pub fn expect_handler_error(self, check: impl FnOnce(&HandlerError)) -> Self {
        match &self.last.outcome {
            Outcome::Failed(error) => check(error),
            _ => panic!(
                "{}: expected the handler to fail, but {}",
                self.header(),
                self.outcome_text()
            ),
        }
        self
    }

    /// Checks that a timeout of event type `E` is pending.
    #[track_caller]
    pub fn expect_scheduled<E: Event>(self) -> Self {
        if !self.timers.iter().any(|t| t.event.event_type == E::NAME) {
            panic!(
                "{}: expected a pending timeout `{}`, but {}",
                self.header(),
                E::NAME,
                self.timers_text()
            );
        }
        self
    }

    /// Checks that no timeout of event type `E` is pending.
    #[track_caller]
    pub fn expect_not_scheduled<E: Event>(self) -> Self {
        if self.timers.iter().any(|t| t.event.event_type == E::NAME) {
            panic!(
                "{}: expected no pending timeout `{}`, but {}",
                self.header(),
                E::NAME,
                self.timers_text()
            );
        }
        self
    }

    /// The instance's state.
    pub fn state(&self) -> &P {
        &self.state
    }

    /// The instance's status.
    pub fn status(&self) -> InstanceStatus {
        self.status
    }

    /// The commands the last step sent.
    pub fn commands(&self) -> &[CommandEnvelope] {
        &self.last.commands
    }

    /// The commands the command side has accepted so far, in order.
    pub fn completed(&self) -> &[CommandEnvelope] {
        &self.completed
    }

    /// The virtual clock, in milliseconds since the fixture started.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Pending timeouts: their event and how long until each is due.
    pub fn scheduled(&self) -> Vec<(&EventEnvelope, Duration)> {
        self.timers
            .iter()
            .map(|t| {
                let wait = t.due_at_ms.saturating_sub(self.now_ms);
                (&t.event, Duration::from_millis(wait))
            })
            .collect()
    }
}
