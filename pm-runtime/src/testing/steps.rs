//! The steps of a [`Fixture`]: delivering events under the runtime's lifecycle rules, the
//! error decision and compensation, the outbox and the virtual clock.

use std::panic::{AssertUnwindSafe, catch_unwind};

use uuid::Uuid;

use super::{Fixture, Outcome, Step, WhichCommand};
use crate::context::Context;
use crate::dispatch::RetryPolicy;
use crate::envelope::{CommandEnvelope, EventEnvelope};
use crate::error::{DispatchError, HandlerError};
use crate::failure::{CommandFailure, ErrorAction};
use crate::ids::{InstanceIds, ProcessId};
use crate::outgoing;
use crate::process_manager::{Compensation, MissingPolicy, ProcessManager, Role};
use crate::status::InstanceStatus;

impl<P: ProcessManager> Fixture<P> {
    /// Delivers an event as the router would: checks its correlation, then handles it.
    #[track_caller]
    pub(super) fn deliver(&mut self, event: EventEnvelope, what: String) {
        self.settle();
        let correlation = match P::correlate(&event) {
            Ok(correlation) => correlation,
            Err(error) => panic!("{}: {what} does not correlate: {error}", self.header()),
        };
        let Some(role) = correlation.role else {
            panic!(
                "{}: process manager `{}` has no handler for event `{}`",
                self.header(),
                P::NAME,
                event.event_type
            );
        };
        if !correlation.targets.iter().any(|t| *t == self.id) {
            let targets: Vec<&str> = correlation.targets.iter().map(ProcessId::as_str).collect();
            panic!(
                "{}: {what} correlates to {targets:?}, not to this instance `{}`",
                self.header(),
                self.id
            );
        }
        self.handle(event, role, false, what);
    }

    /// Applies the lifecycle rules, then runs the handler and applies its effects.
    pub(super) fn handle(&mut self, event: EventEnvelope, role: Role, direct: bool, what: String) {
        self.last = Step {
            what,
            outcome: Outcome::Handled,
            commands: Vec::new(),
        };
        if let Some(outcome) = self.admit(&event, role, direct) {
            self.last.outcome = outcome;
            return;
        }
        if self.status == InstanceStatus::Parked {
            self.stash.push(event);
            self.last.outcome = Outcome::Ignored("the instance is parked; the event is held");
            return;
        }
        let before = self.encoded_state();
        let mut ctx = Context::new(self.id.clone());
        let commands = match guarded(|| self.state.handle(&event, &mut ctx)) {
            Ok(commands) => commands,
            Err(error) => {
                self.state = self.decoded_state(&before);
                if self.exists {
                    self.status = InstanceStatus::Parked;
                }
                self.last.outcome = Outcome::Failed(error);
                return;
            }
        };
        // As the store does: what is not serialised does not survive to the next event.
        self.state = self.decoded_state(&self.encoded_state());
        self.exists = true;
        self.handled.insert(event.event_id);
        let correlation_id = event
            .correlation_id
            .clone()
            .unwrap_or_else(|| self.id.to_string());
        let envelopes = self.envelopes(commands, event.event_id, event.event_id, &correlation_id);
        let stopping = role == Role::Stop || ctx.is_stopping();
        self.status = match (stopping, envelopes.is_empty()) {
            (false, _) => InstanceStatus::Running,
            (true, true) => InstanceStatus::Completed,
            (true, false) => InstanceStatus::Completing,
        };
        self.add_context(ctx, event.event_id, &correlation_id);
        self.outbox.extend(envelopes.iter().cloned());
        self.last.commands = envelopes;
        self.on_status();
    }

    /// `None` means "handle it"; mirrors the runtime's admission of an event.
    pub(super) fn admit(&self, event: &EventEnvelope, role: Role, direct: bool) -> Option<Outcome> {
        if !self.exists {
            let creates = direct
                || matches!(role, Role::Start | Role::StartNew)
                || P::MISSING == MissingPolicy::Start;
            return match (creates, P::MISSING) {
                (true, _) => None,
                (false, MissingPolicy::Error) => Some(Outcome::Refused(
                    "the instance does not exist and the missing policy is `error`",
                )),
                (false, _) => Some(Outcome::Ignored(
                    "the instance does not exist and the event does not start it",
                )),
            };
        }
        if self.handled.contains(&event.event_id) {
            return Some(Outcome::Ignored("the event id was handled already"));
        }
        if self.status == InstanceStatus::Parked {
            return None;
        }
        if !self.status.accepts_events() {
            return Some(Outcome::Ignored("the instance has stopped"));
        }
        if role == Role::StartNew && !direct {
            return Some(Outcome::Refused(
                "a `#[start(new)]` event reached an existing instance",
            ));
        }
        None
    }

    #[track_caller]
    pub(super) fn fail_command(
        mut self,
        command: &dyn WhichCommand,
        error: DispatchError,
        keep: bool,
    ) -> Self {
        let Some(at) = self.outbox.iter().position(|c| command.is(c)) else {
            let waiting: Vec<&str> = self.outbox.iter().map(|c| &*c.command_type).collect();
            panic!(
                "{}: no command {} is waiting to be sent; the outbox holds {waiting:?}",
                self.header(),
                command.describe()
            );
        };
        for command in self.outbox.drain(..at).collect::<Vec<_>>() {
            self.completed.push(command);
        }
        let what = format!("when {} fails ({error})", command.describe());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Some(command) = self.outbox.front().cloned() else {
                break;
            };
            let failure = CommandFailure {
                command,
                error: error.clone(),
                attempt,
            };
            let retried = self.decide(&failure, what.clone());
            // An `#[on_error]` that retries forever must not hang the test.
            if !(keep && retried && attempt < 1_000) {
                break;
            }
        }
        self
    }

    /// Applies the decision about one failed attempt; true when it is `Retry`.
    pub(super) fn decide(&mut self, failure: &CommandFailure, what: String) -> bool {
        let mut ctx = Context::with_failure(self.id.clone(), Some(failure.clone()));
        let answer = guarded(|| Ok(self.state.on_error(failure, &mut ctx)));
        let (action, ctx) = match answer {
            Ok(Some(action)) => (action, Some(ctx)),
            Ok(None) | Err(_) => (default_action(failure, &self.retry), None),
        };
        self.last = Step {
            what,
            outcome: Outcome::Handled,
            commands: Vec::new(),
        };
        let failed = &failure.command;
        let (name, retried) = match action {
            ErrorAction::Retry { .. } => {
                if let Some(ctx) = ctx {
                    self.add_context(ctx, failed.command_id, &failed.correlation_id.clone());
                }
                ("retry", true)
            }
            ErrorAction::Compensate if self.status == InstanceStatus::Compensating => {
                self.status = InstanceStatus::Parked;
                ("park", false)
            }
            ErrorAction::Compensate => {
                self.compensate(failure);
                ("compensate", false)
            }
            ErrorAction::Continue(commands) => {
                let envelopes = self.envelopes(
                    commands,
                    failed.command_id,
                    failed.command_id,
                    &failed.correlation_id,
                );
                if let Some(ctx) = ctx {
                    self.add_context(ctx, failed.command_id, &failed.correlation_id.clone());
                }
                self.outbox = envelopes.iter().cloned().collect();
                self.last.commands = envelopes;
                self.finish_if_drained();
                ("continue", false)
            }
            ErrorAction::Skip => {
                self.outbox.pop_front();
                self.finish_if_drained();
                ("skip", false)
            }
            ErrorAction::Park => {
                self.status = InstanceStatus::Parked;
                ("park", false)
            }
        };
        self.last.outcome = Outcome::Decided(name);
        self.on_status();
        retried
    }

    /// Aborts: the outbox is dropped and the compensations of the accepted commands, newest
    /// first, take its place.
    pub(super) fn compensate(&mut self, failure: &CommandFailure) {
        let before = self.encoded_state();
        let mut out = Vec::new();
        for done in self.completed.clone().iter().rev() {
            let mut ctx = Context::with_failure(self.id.clone(), Some(failure.clone()));
            match guarded(|| self.state.compensate(done, &mut ctx)) {
                Ok(Compensation::Commands(commands)) => {
                    let cause = failure.command.command_id;
                    out.extend(self.envelopes(
                        commands,
                        done.command_id,
                        cause,
                        &done.correlation_id,
                    ));
                }
                Ok(Compensation::Skip) => {}
                Err(error) => {
                    // The runtime parks the instance when a compensation handler fails.
                    self.state = self.decoded_state(&before);
                    self.status = InstanceStatus::Parked;
                    self.last.outcome = Outcome::Failed(error);
                    return;
                }
            }
        }
        self.state = self.decoded_state(&self.encoded_state());
        self.status = if out.is_empty() {
            InstanceStatus::Compensated
        } else {
            InstanceStatus::Compensating
        };
        self.outbox = out.iter().cloned().collect();
        self.last.commands = out;
    }

    /// The command side accepts everything waiting, in order.
    pub(super) fn settle(&mut self) {
        if self.status == InstanceStatus::Parked {
            return;
        }
        self.completed.extend(self.outbox.drain(..));
        self.finish_if_drained();
    }

    /// A stopping or aborting instance finishes once its outbox is empty.
    pub(super) fn finish_if_drained(&mut self) {
        if self.outbox.is_empty() {
            self.status = match self.status {
                InstanceStatus::Completing => InstanceStatus::Completed,
                InstanceStatus::Compensating => InstanceStatus::Compensated,
                status => status,
            };
        }
        self.on_status();
    }

    /// A finished instance holds no timers, as in the store.
    pub(super) fn on_status(&mut self) {
        if self.status.is_finished() {
            self.timers.clear();
        }
    }

    pub(super) fn next_due(&self, until: u64) -> Option<usize> {
        // Earliest first; among equals, the one scheduled first.
        let mut best: Option<(usize, u64)> = None;
        for (at, timer) in self.timers.iter().enumerate() {
            if timer.due_at_ms <= until && best.is_none_or(|(_, due)| timer.due_at_ms < due) {
                best = Some((at, timer.due_at_ms));
            }
        }
        best.map(|(at, _)| at)
    }

    pub(super) fn role_of(&self, event: &EventEnvelope) -> Option<Role> {
        P::EVENTS
            .iter()
            .find(|route| route.event_type == event.event_type)
            .map(|route| route.role)
    }

    /// Turns commands into envelopes with the runtime's deterministic ids.
    pub(super) fn envelopes(
        &self,
        commands: Vec<P::Command>,
        cause: Uuid,
        causation_id: Uuid,
        correlation_id: &str,
    ) -> Vec<CommandEnvelope> {
        let ids = InstanceIds::new(P::NAME, &self.id);
        outgoing::command_envelopes(&ids, commands, cause, causation_id, correlation_id)
    }

    /// Applies the timeouts a handler scheduled or cancelled.
    pub(super) fn add_context(&mut self, ctx: Context<P>, cause: Uuid, correlation_id: &str) {
        for event_type in &ctx.cancelled {
            self.timers.retain(|t| t.event.event_type != *event_type);
        }
        let (id, now) = (&self.id, self.now_ms);
        let timers = outgoing::timers(P::NAME, id, ctx.scheduled, cause, correlation_id, now);
        self.timers.extend(timers);
    }

    #[track_caller]
    pub(super) fn encoded_state(&self) -> Vec<u8> {
        match serde_json::to_vec(&self.state) {
            Ok(bytes) => bytes,
            Err(error) => panic!("{}: the state does not serialise: {error}", self.header()),
        }
    }

    #[track_caller]
    pub(super) fn decoded_state(&self, bytes: &[u8]) -> P {
        match serde_json::from_slice(bytes) {
            Ok(state) => state,
            Err(error) => panic!(
                "{}: the state does not read back from its own JSON ({}): {error}",
                self.header(),
                String::from_utf8_lossy(bytes)
            ),
        }
    }
}

/// The runtime's default decision, see `instance/outbox.rs`.
pub(super) fn default_action<C>(failure: &CommandFailure, policy: &RetryPolicy) -> ErrorAction<C> {
    match failure.error {
        DispatchError::Unavailable(_) if policy.should_retry(failure.attempt) => {
            ErrorAction::Retry {
                after: policy.backoff(failure.attempt),
            }
        }
        _ => ErrorAction::Compensate,
    }
}

pub(super) fn guarded<T>(f: impl FnOnce() -> Result<T, HandlerError>) -> Result<T, HandlerError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_owned());
        Err(HandlerError::Panicked(message))
    })
}
