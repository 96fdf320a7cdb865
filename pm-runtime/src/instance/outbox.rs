//! The command path: dispatch outcomes, retries, abort and compensation.

use std::time::Duration;

use tracing::{debug, warn};

use super::{Instance, guarded};
use crate::context::Context;
use crate::envelope::CommandEnvelope;
use crate::error::{DispatchError, Error, HandlerError};
use crate::process_manager::{Compensation, ProcessManager};
use crate::stats::Counters;
use crate::status::InstanceStatus;
use crate::store::Settlement;

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
        let counters = &self.host.shared.counters;
        match result {
            Ok(()) => {
                Counters::bump(&counters.commands_dispatched);
                self.settle_head(&command).await
            }
            Err(DispatchError::Unavailable(reason))
                if self.host.shared.config.command_retry.should_retry(attempt) =>
            {
                Counters::bump(&counters.command_failures);
                Counters::bump(&counters.command_retries);
                let wait = self.host.shared.config.command_retry.backoff(attempt);
                debug!(pm = P::NAME, process_id = %self.id, command_id = %command.command_id,
                       attempt, ?wait, %reason, "command side unavailable; retrying");
                Next::RetryAfter(wait)
            }
            Err(error) => {
                Counters::bump(&counters.command_failures);
                self.abort(&command, error).await
            }
        }
    }

    /// The head command was accepted: move it to the completed log.
    async fn settle_head(&mut self, command: &CommandEnvelope) -> Next {
        let last = self.outbox.len() == 1;
        let status = match self.status {
            InstanceStatus::Completing if last => InstanceStatus::Completed,
            InstanceStatus::Compensating if last => InstanceStatus::Compensated,
            status => status,
        };
        let settle = vec![(command.command_id, Settlement::Completed)];
        let commit = self.commit(status, false, None, Vec::new(), settle);
        match commit {
            Ok(commit) => match self.apply(commit).await {
                Ok(()) => {
                    self.count_finish();
                    Next::Continue
                }
                Err(error) => self.retry_after_store_failure(&error),
            },
            Err(error) => self.retry_after_store_failure(&error),
        }
    }

    /// A command failed for good: undo what the saga completed, newest first.
    async fn abort(&mut self, failed: &CommandEnvelope, error: DispatchError) -> Next {
        if self.status == InstanceStatus::Compensating {
            warn!(pm = P::NAME, process_id = %self.id, command_id = %failed.command_id, %error,
                  "a compensating command failed; parking the instance");
            return self.park().await;
        }
        warn!(pm = P::NAME, process_id = %self.id, command_id = %failed.command_id, %error,
              "command failed; compensating");
        let compensations = match self.compensations(failed.command_id) {
            Ok(compensations) => compensations,
            Err(handler_error) => {
                warn!(pm = P::NAME, process_id = %self.id, error = %handler_error,
                      "a compensation handler failed; parking the instance");
                self.restore().await;
                return self.park().await;
            }
        };
        let status = if compensations.is_empty() {
            InstanceStatus::Compensated
        } else {
            InstanceStatus::Compensating
        };
        let cancelled = self
            .outbox
            .iter()
            .map(|c| (c.command_id, Settlement::Cancelled))
            .collect();
        let applied = match self.commit(status, true, None, compensations, cancelled) {
            Ok(commit) => self.apply(commit).await,
            Err(error) => Err(error),
        };
        match applied {
            Ok(()) => {
                Counters::bump(&self.host.shared.counters.aborted);
                self.count_finish();
                Next::Continue
            }
            Err(error) => {
                self.restore().await;
                self.retry_after_store_failure(&error)
            }
        }
    }

    /// The compensating commands of every completed command, newest completion first.
    fn compensations(
        &mut self,
        failed_id: uuid::Uuid,
    ) -> Result<Vec<CommandEnvelope>, HandlerError> {
        let mut out = Vec::new();
        for done in self.completed.clone().iter().rev() {
            if let Compensation::Commands(commands) = self.run_compensate(done)? {
                out.extend(self.envelopes(
                    commands,
                    done.command_id,
                    failed_id,
                    &done.correlation_id,
                ));
            }
        }
        Ok(out)
    }

    fn run_compensate(
        &mut self,
        command: &CommandEnvelope,
    ) -> Result<Compensation<P::Command>, HandlerError> {
        let mut ctx = Context::new(self.id.clone());
        guarded(|| self.state.compensate(command, &mut ctx))
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
            Compensation::Commands(commands) => Compensation::Commands(self.envelopes(
                commands,
                command.command_id,
                command.command_id,
                &command.correlation_id,
            )),
        })
    }

    async fn park(&mut self) -> Next {
        let applied = match self.commit(InstanceStatus::Parked, false, None, Vec::new(), Vec::new())
        {
            Ok(commit) => self.apply(commit).await,
            Err(error) => Err(error),
        };
        match applied {
            Ok(()) => {
                Counters::bump(&self.host.shared.counters.parked);
                Next::Continue
            }
            Err(error) => self.retry_after_store_failure(&error),
        }
    }

    fn count_finish(&self) {
        let counters = &self.host.shared.counters;
        match self.status {
            InstanceStatus::Completed => Counters::bump(&counters.completed),
            InstanceStatus::Compensated => Counters::bump(&counters.compensated),
            _ => {}
        }
    }

    /// The store refused a commit about the head command: nothing changed, so sending the
    /// command again (receivers dedupe on its idempotency key) retries the whole step.
    fn retry_after_store_failure(&self, error: &Error) -> Next {
        warn!(pm = P::NAME, process_id = %self.id, %error, "commit failed; retrying the step");
        Next::RetryAfter(self.host.shared.config.command_retry.ceiling(1))
    }
}
