//! The event path: lifecycle rules, deduplication, the handler call and its commit.

use tracing::debug;

use super::mailbox::Delivered;
use super::{Instance, guarded};
use crate::context::Context;
use crate::envelope::EventEnvelope;
use crate::error::{Error, Refusal};
use crate::process_manager::{MissingPolicy, ProcessManager, Role};
use crate::stats::Counters;
use crate::status::InstanceStatus;

impl<P: ProcessManager> Instance<P> {
    /// Handles one event delivered with `role`; `direct` is delivery through an
    /// `InstanceHandle` (the instance was started explicitly, so start/missing rules do not
    /// apply).
    pub(crate) async fn on_event(
        &mut self,
        event: &EventEnvelope,
        role: Role,
        direct: bool,
    ) -> Result<Delivered, Error> {
        let counters = &self.host.shared.counters;
        if let Some(skip) = self.admit(event, role, direct)? {
            Counters::bump(match skip {
                Delivered::Duplicate => &counters.duplicates,
                _ if self.exists() => &counters.ignored_finished,
                _ => &counters.ignored_missing,
            });
            debug!(pm = P::NAME, process_id = %self.id, event_id = %event.event_id, ?skip, "event not handled");
            return Ok(skip);
        }
        let created = !self.exists();

        let mut ctx = Context::new(self.id.clone());
        let outcome = guarded(|| self.state.handle(event, &mut ctx));
        let commands = match outcome {
            Ok(commands) => commands,
            Err(source) => {
                Counters::bump(&self.host.shared.counters.handler_failures);
                self.restore().await;
                return Err(Error::Handler {
                    pm: P::NAME,
                    process_id: self.id.clone(),
                    event_id: event.event_id,
                    source,
                });
            }
        };

        let correlation_id = event
            .correlation_id
            .as_deref()
            .unwrap_or(self.id.as_str())
            .to_owned();
        let envelopes = self.envelopes(commands, event.event_id, event.event_id, &correlation_id);
        let status = match (
            role == Role::Stop || ctx.is_stopping(),
            envelopes.is_empty(),
        ) {
            (false, _) => InstanceStatus::Running,
            (true, true) => InstanceStatus::Completed,
            (true, false) => InstanceStatus::Completing,
        };
        let commit = self.commit(status, true, Some(event.event_id), envelopes, Vec::new());
        let applied = match commit {
            Ok(commit) => self.apply(commit).await,
            Err(error) => Err(error),
        };
        if let Err(error) = applied {
            self.restore().await;
            return Err(error);
        }
        Counters::bump(&counters_of(self).handled);
        if created {
            Counters::bump(&counters_of(self).started);
        }
        if status == InstanceStatus::Completed {
            Counters::bump(&counters_of(self).completed);
        }
        Ok(Delivered::Handled)
    }

    /// Applies the lifecycle and dedup rules: `Ok(None)` means "handle it".
    fn admit(
        &self,
        event: &EventEnvelope,
        role: Role,
        direct: bool,
    ) -> Result<Option<Delivered>, Error> {
        if !self.exists() {
            let creates = direct
                || matches!(role, Role::Start | Role::StartNew)
                || P::MISSING == MissingPolicy::Start;
            return match (creates, P::MISSING) {
                (true, _) => Ok(None),
                (false, MissingPolicy::Error) => Err(self.refuse(event, Refusal::Missing)),
                (false, _) => Ok(Some(Delivered::Ignored)),
            };
        }
        if self.handled.contains(&event.event_id) {
            return Ok(Some(Delivered::Duplicate));
        }
        if !self.status.accepts_events() {
            if direct {
                return Err(self.finished_error());
            }
            return Ok(Some(Delivered::Ignored));
        }
        if role == Role::StartNew && !direct {
            return Err(self.refuse(event, Refusal::AlreadyStarted));
        }
        Ok(None)
    }

    fn refuse(&self, event: &EventEnvelope, reason: Refusal) -> Error {
        Counters::bump(&self.host.shared.counters.refused);
        Error::Refused {
            pm: P::NAME,
            process_id: self.id.clone(),
            event_id: event.event_id,
            reason,
        }
    }
}

fn counters_of<P: ProcessManager>(instance: &Instance<P>) -> &Counters {
    &instance.host.shared.counters
}
