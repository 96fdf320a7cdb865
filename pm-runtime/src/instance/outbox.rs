//! The command path: dispatch outcomes, the error policy, abort and compensation.

use std::time::Duration;

use tracing::{debug, warn};

use super::{Instance, guarded};
use crate::context::Context;
use crate::dispatch::RetryPolicy;
use crate::envelope::CommandEnvelope;
use crate::error::{DispatchError, Error, HandlerError};
use crate::failure::{CommandFailure, ErrorAction};
use crate::ids::InstanceIds;
use crate::outgoing;
use crate::process_manager::{Compensation, ProcessManager};
use crate::stats::Counters;
use crate::status::InstanceStatus;
use crate::store::{DeadLetter, Settlement};

/// What the task does next about the command at the head of the outbox.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Send the next command (if any) now.
    Continue,
    /// Send the head command again after this wait.
    RetryAfter(Duration),
}

impl<P: ProcessManager> Instance<P> {
    /// The command to send next, unless the instance is parked.
    pub(crate) fn next_command(&self) -> Option<&CommandEnvelope> {
        if self.status == InstanceStatus::Parked || self.broken {
            return None;
        }
        self.outbox.front()
    }

    /// Records the outcome of dispatch attempt `attempt` (1-based) of the head command.
    pub(crate) async fn on_dispatched(
        &mut self,
        result: Result<(), DispatchError>,
        attempt: u32,
    ) -> Next {
        let Some(command) = self.outbox.front().cloned() else {
            return Next::Continue;
        };
        let error = match result {
            Ok(()) => {
                Counters::bump(&self.host.shared.counters.local().commands_dispatched);
                return self.settle_head(&command, Settlement::Completed).await;
            }
            Err(error) => error,
        };
        Counters::bump(&self.host.shared.counters.local().command_failures);
        let failure = CommandFailure {
            command,
            error,
            attempt,
        };
        let (action, ctx) = self.decide(&failure);
        debug!(pm = P::NAME, process_id = %self.id, command_id = %failure.command.command_id,
               attempt, error = %failure.error, "command failed");

        match action {
            ErrorAction::Retry { after } => {
                Counters::bump(&self.host.shared.counters.local().command_retries);
                self.commit_decision(ctx, &failure).await;
                Next::RetryAfter(after)
            }
            ErrorAction::Compensate if self.status == InstanceStatus::Compensating => {
                self.park_command(&failure, "a compensating command failed")
                    .await
            }
            ErrorAction::Compensate => self.abort(&failure).await,
            ErrorAction::Continue(commands) => self.replace_pending(commands, ctx, &failure).await,
            ErrorAction::Skip => {
                self.settle_head(&failure.command, Settlement::Cancelled)
                    .await
            }
            ErrorAction::Park => self.park_command(&failure, "parked by `#[on_error]`").await,
        }
    }

    /// The `#[on_error]` answer, or the default policy when there is none (or it panicked).
    fn decide(
        &mut self,
        failure: &CommandFailure,
    ) -> (ErrorAction<P::Command>, Option<Context<P>>) {
        let mut ctx = Context::with_failure(self.id.clone(), Some(failure.clone()));
        let answer = guarded(|| Ok(self.state.on_error(failure, &mut ctx)));
        match answer {
            Ok(Some(action)) => (action, Some(ctx)),
            Ok(None) => (default_action(failure, &self.host.command_retry), None),
            Err(error) => {
                warn!(pm = P::NAME, process_id = %self.id, %error,
                      "`#[on_error]` failed; applying the default policy");
                (default_action(failure, &self.host.command_retry), None)
            }
        }
    }

    /// Commits what an `#[on_error]` handler changed (state, timeouts) with no other effect.
    async fn commit_decision(&mut self, ctx: Option<Context<P>>, failure: &CommandFailure) {
        let Some(ctx) = ctx else { return };
        let commit = self.encoded_state().map(|state| {
            let mut commit = self.next_commit(self.status);
            commit.state = Some(state);
            commit
        });
        let applied = match commit {
            Ok(mut commit) => {
                let cause = failure.command.command_id;
                self.add_context(&mut commit, ctx, cause, &failure.command.correlation_id);
                self.apply(commit).await
            }
            Err(error) => Err(error),
        };
        if let Err(error) = applied {
            warn!(pm = P::NAME, process_id = %self.id, %error, "could not record `#[on_error]` changes");
            self.restore().await;
        }
    }

    /// Moves the head command out of the outbox: into the completed log, or dropped.
    async fn settle_head(&mut self, command: &CommandEnvelope, settlement: Settlement) -> Next {
        let last = self.outbox.len() == 1;
        let status = match self.status {
            InstanceStatus::Completing if last => InstanceStatus::Completed,
            InstanceStatus::Compensating if last => InstanceStatus::Compensated,
            status => status,
        };
        let mut commit = self.next_commit(status);
        commit.settle.push((command.command_id, settlement));
        match self.apply(commit).await {
            Ok(()) => {
                self.on_finished();
                Next::Continue
            }
            Err(error) => self.retry_after_store_failure(&error),
        }
    }

    /// `ErrorAction::Continue`: these commands replace the failed one and those behind it.
    async fn replace_pending(
        &mut self,
        commands: Vec<P::Command>,
        ctx: Option<Context<P>>,
        failure: &CommandFailure,
    ) -> Next {
        let failed = &failure.command;
        let cause = (failed.command_id, failed.correlation_id.as_str());
        let envelopes = self.envelopes(commands, cause.0, cause.0, cause.1);
        let status = match (self.status, envelopes.is_empty()) {
            (InstanceStatus::Completing, true) => InstanceStatus::Completed,
            (InstanceStatus::Compensating, true) => InstanceStatus::Compensated,
            (status, _) => status,
        };
        let context = ctx.map(|ctx| (ctx, cause.0, failed.correlation_id.clone()));
        match self.replace_outbox(status, envelopes, context).await {
            Ok(()) => Next::Continue,
            Err(retry) => retry,
        }
    }

    /// A command failed for good: undo what the saga completed, newest first.
    async fn abort(&mut self, failure: &CommandFailure) -> Next {
        warn!(pm = P::NAME, process_id = %self.id, command_id = %failure.command.command_id,
              error = %failure.error, "command failed; compensating");
        let compensations = match self.compensations(failure) {
            Ok(compensations) => compensations,
            Err(error) => {
                self.restore().await;
                let reason = format!("a compensation handler failed: {error}");
                return self.park_command(failure, &reason).await;
            }
        };
        tracing::info!(target: "pm_runtime::telemetry", telemetry = "compensate", pm = P::NAME,
                       process_id = %self.id, command_count = compensations.len());
        let status = if compensations.is_empty() {
            InstanceStatus::Compensated
        } else {
            InstanceStatus::Compensating
        };
        match self.replace_outbox(status, compensations, None).await {
            Ok(()) => {
                Counters::bump(&self.host.shared.counters.local().aborted);
                Next::Continue
            }
            Err(retry) => retry,
        }
    }

    /// Commits the state with `commands` in place of everything still in the outbox (the
    /// unsent commands are cancelled, never compensated), plus what a handler asked of its
    /// context. `Err` carries the retry to schedule when the commit failed.
    async fn replace_outbox(
        &mut self,
        status: InstanceStatus,
        commands: Vec<CommandEnvelope>,
        context: Option<(Context<P>, uuid::Uuid, String)>,
    ) -> Result<(), Next> {
        let mut commit = self.next_commit(status);
        match self.encoded_state() {
            Ok(state) => commit.state = Some(state),
            Err(error) => return Err(self.retry_after_store_failure(&error)),
        }
        commit.settle = self
            .outbox
            .iter()
            .map(|c| (c.command_id, Settlement::Cancelled))
            .collect();
        commit.enqueue = commands;
        if let Some((ctx, cause, correlation_id)) = context {
            self.add_context(&mut commit, ctx, cause, &correlation_id);
        }
        match self.apply(commit).await {
            Ok(()) => {
                self.on_finished();
                Ok(())
            }
            Err(error) => {
                self.restore().await;
                Err(self.retry_after_store_failure(&error))
            }
        }
    }

    /// The compensating commands of every completed command, newest completion first.
    fn compensations(
        &mut self,
        failure: &CommandFailure,
    ) -> Result<Vec<CommandEnvelope>, HandlerError> {
        let mut out = Vec::new();
        for done in self.completed.clone().iter().rev() {
            let mut ctx = Context::with_failure(self.id.clone(), Some(failure.clone()));
            let answer = guarded(|| self.state.compensate(done, &mut ctx))?;
            if let Compensation::Commands(commands) = answer {
                let cause = failure.command.command_id;
                out.extend(self.envelopes(commands, done.command_id, cause, &done.correlation_id));
            }
        }
        Ok(out)
    }

    /// evoq's `compensate/2`: the undo of `command`, computed on a copy of the state and not
    /// dispatched.
    pub(crate) fn compensation_of(
        &self,
        command: &CommandEnvelope,
    ) -> Result<Compensation<CommandEnvelope>, Error> {
        let mut copy = self.state_copy()?;
        let mut ctx = Context::new(self.id.clone());
        let answer =
            guarded(|| copy.compensate(command, &mut ctx)).map_err(|source| Error::Handler {
                pm: P::NAME,
                process_id: self.id.clone(),
                event_id: command.command_id,
                source,
            })?;
        Ok(match answer {
            Compensation::Skip => Compensation::Skip,
            // A query on a shared borrow, and rare: the ids are hashed from scratch.
            Compensation::Commands(commands) => {
                Compensation::Commands(outgoing::command_envelopes(
                    &InstanceIds::new(P::NAME, &self.id),
                    commands,
                    command.command_id,
                    command.command_id,
                    &command.correlation_id,
                ))
            }
        })
    }

    async fn park_command(&mut self, failure: &CommandFailure, reason: &str) -> Next {
        warn!(pm = P::NAME, process_id = %self.id, command_id = %failure.command.command_id,
              error = %failure.error, reason, "parking the instance");
        let dead_letter = DeadLetter {
            event: None,
            command: Some(failure.command.clone()),
            error: format!("{reason}: {}", failure.error),
            attempts: failure.attempt,
            parked_at_ms: self.host.shared.clock.now_ms(),
            resume: self.status,
        };
        match self.park(dead_letter, super::Origin::Mailbox).await {
            Ok(()) => Next::Continue,
            Err(error) => self.retry_after_store_failure(&error),
        }
    }

    /// The store refused a commit about the head command: nothing changed, so sending the
    /// command again (receivers dedupe on its idempotency key) retries the whole step.
    fn retry_after_store_failure(&self, error: &Error) -> Next {
        warn!(pm = P::NAME, process_id = %self.id, %error, "commit failed; retrying the step");
        Next::RetryAfter(self.host.command_retry.ceiling(1))
    }
}

/// The runtime's default: retry what may pass later while the policy allows, else abort.
fn default_action<C>(failure: &CommandFailure, policy: &RetryPolicy) -> ErrorAction<C> {
    match failure.error {
        DispatchError::Unavailable(_) if policy.should_retry(failure.attempt) => {
            ErrorAction::Retry {
                after: policy.backoff(failure.attempt),
            }
        }
        _ => ErrorAction::Compensate,
    }
}
