//! The event path: lifecycle rules, deduplication, the handler call with retries, its commit.

use tracing::debug;
use uuid::Uuid;

use super::mailbox::Delivered;
use super::{Instance, guarded};
use crate::context::Context;
use crate::envelope::EventEnvelope;
use crate::error::{Error, HandlerError, Refusal};
use crate::process_manager::{MissingPolicy, ProcessManager, Role};
use crate::stats::Counters;
use crate::status::InstanceStatus;
use crate::store::{Commit, DeadLetter};

/// Where an event being handled came from; decides what its commit records and removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Published or sent through a handle: the commit records the event id.
    Mailbox,
    /// Published with an id the runtime drew (see `Via::PublishMinted`): nothing records
    /// it, as no redelivery can carry it.
    Minted,
    /// A durable timer firing: the commit removes the timer.
    Timer(Uuid),
    /// Replayed from the stash of a resumed instance: the commit removes it from the stash.
    Stash,
}

impl Origin {
    /// Whether the event came from something stored (a timer, a stash entry) that must go
    /// once the event is dealt with, handled or not.
    fn is_stored(self) -> bool {
        matches!(self, Origin::Timer(_) | Origin::Stash)
    }

    /// Adds to `commit` the removal of what the event came from, if anything.
    pub(super) fn remove_in(self, commit: &mut Commit) {
        match self {
            Origin::Mailbox | Origin::Minted => {}
            Origin::Timer(timer_id) => commit.unschedule.push(timer_id),
            Origin::Stash => commit.unstash = 1,
        }
    }
}

/// Why one handling attempt did not commit.
enum Failure {
    Handler(HandlerError),
    Other(Error),
}

impl<P: ProcessManager> Instance<P> {
    /// Handles one event delivered with `role`; `direct` is delivery to a known instance
    /// (a handle, a timer, a stash replay), which bypasses the start and missing rules.
    pub(crate) async fn on_event(
        &mut self,
        event: &EventEnvelope,
        role: Role,
        direct: bool,
        origin: Origin,
    ) -> Result<Delivered, Error> {
        if let Some(skip) = self.admit(event, role, direct, origin)? {
            self.count_skip(skip);
            debug!(pm = P::NAME, process_id = %self.id, event_id = %event.event_id, ?skip,
                   "event not handled");
            if origin.is_stored() {
                Box::pin(self.consume(origin)).await?;
            }
            return Ok(skip);
        }
        // The rare paths' futures are boxed: an inline await makes this future as large as
        // the largest path below it, and every event's future is moved into place whole.
        if self.status == InstanceStatus::Parked {
            return Box::pin(self.stash_event(event, origin)).await;
        }
        // Boxed: the failure and the retries' futures would make this future, moved into
        // place on every event, nearly twice as large (552 bytes against 304). The failure
        // is moved into the boxed future outside the `match`, whose bindings would otherwise
        // be kept across the await.
        let failed = match self.try_handle(event, role, origin).await {
            Ok(()) => return Ok(Delivered::Handled),
            Err(failure) => Box::pin(self.on_failure(event, role, origin, failure)),
        };
        failed.await
    }

    /// After a failed attempt: restores the state, retries the handler as the retry policy
    /// says, and parks the instance when it gives up.
    async fn on_failure(
        &mut self,
        event: &EventEnvelope,
        role: Role,
        origin: Origin,
        mut failure: Failure,
    ) -> Result<Delivered, Error> {
        let retry = self.host.shared.config.handler_retry;
        let mut attempt = 1;
        loop {
            // The handler may have changed the state before it failed, or left a state
            // that does not encode, or the store refused the commit.
            self.restore().await;
            let source = match failure {
                Failure::Other(error) => return Err(error),
                Failure::Handler(source) => source,
            };
            Counters::bump(&self.host.shared.counters.local().handler_failures);
            if retry.should_retry(attempt) {
                tokio::time::sleep(retry.backoff(attempt)).await;
                attempt += 1;
                failure = match self.try_handle(event, role, origin).await {
                    Ok(()) => return Ok(Delivered::Handled),
                    Err(failure) => failure,
                };
                continue;
            }
            let dead_letter = DeadLetter {
                event: Some(event.clone()),
                command: None,
                error: source.to_string(),
                attempts: attempt,
                parked_at_ms: self.host.shared.clock.now_ms(),
                resume: self.status,
            };
            if self.exists() {
                Box::pin(self.park(dead_letter, origin)).await?;
            }
            return Err(Error::Handler {
                pm: P::NAME,
                process_id: self.id.clone(),
                event_id: event.event_id,
                source,
            });
        }
    }

    /// One attempt: run the handler, commit its effects. On failure the caller restores
    /// the state.
    ///
    /// The store's future is the only await: the handler's context and the commit are
    /// handed on before it, so this future, moved into place on every event, does not
    /// hold them.
    async fn try_handle(
        &mut self,
        event: &EventEnvelope,
        role: Role,
        origin: Origin,
    ) -> Result<(), Failure> {
        let created = !self.exists();
        let (status, mirror, writing) = match self.prepare(event, role, origin) {
            Ok(mut commit) => {
                let mirror = self.mirror_of(&mut commit);
                (commit.status, mirror, self.host.shared.store.commit(commit))
            }
            Err(failure) => return Err(failure),
        };
        let written = writing.await;
        self.mirror_written(mirror, written)
            .map_err(Failure::Other)?;
        let counters = self.host.shared.counters.local();
        Counters::bump(&counters.handled);
        if created {
            self.on_started();
        }
        if status == InstanceStatus::Completed {
            self.on_finished();
        }
        Ok(())
    }

    /// Runs the handler and builds the commit of its effects.
    fn prepare(
        &mut self,
        event: &EventEnvelope,
        role: Role,
        origin: Origin,
    ) -> Result<Commit, Failure> {
        let mut ctx = Context::new(self.id.clone());
        let commands = guarded(|| self.state.handle(event, &mut ctx)).map_err(Failure::Handler)?;
        // Borrowed from the event (or the id, cloned: `self` is borrowed mutably below).
        let id = self.id.clone();
        let correlation_id = event.correlation_id.as_deref().unwrap_or(id.as_str());
        let envelopes = self.envelopes(commands, event.event_id, event.event_id, correlation_id);
        let status = match (
            role == Role::Stop || ctx.is_stopping(),
            envelopes.is_empty(),
        ) {
            (false, _) => InstanceStatus::Running,
            (true, true) => InstanceStatus::Completed,
            (true, false) => InstanceStatus::Completing,
        };
        let mut commit = self.next_commit(status);
        commit.state = Some(self.encoded_state().map_err(Failure::Other)?);
        commit.handled = (origin != Origin::Minted).then_some(event.event_id);
        commit.enqueue = envelopes;
        self.add_context(&mut commit, ctx, event.event_id, correlation_id);
        origin.remove_in(&mut commit);
        Ok(commit)
    }

    /// Applies the lifecycle and dedup rules: `Ok(None)` means "handle it".
    fn admit(
        &self,
        event: &EventEnvelope,
        role: Role,
        direct: bool,
        origin: Origin,
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
        // A stash replay is the stashed copy itself, not a redelivery of it.
        let stashed =
            origin != Origin::Stash && self.stash.iter().any(|e| e.event_id == event.event_id);
        let dead = self
            .dead_letter
            .as_ref()
            .and_then(|d| d.event.as_ref())
            .is_some_and(|e| e.event_id == event.event_id);
        if self.handled.contains(&event.event_id) || stashed || dead {
            return Ok(Some(Delivered::Duplicate));
        }
        if self.status == InstanceStatus::Parked {
            return Ok(None);
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

    fn count_skip(&self, skip: Delivered) {
        let counters = self.host.shared.counters.local();
        Counters::bump(match skip {
            Delivered::Duplicate => &counters.duplicates,
            _ if self.exists() => &counters.ignored_finished,
            _ => &counters.ignored_missing,
        });
    }

    /// Removes a skipped timer or stash entry, so it is not delivered again.
    async fn consume(&mut self, origin: Origin) -> Result<(), Error> {
        if !origin.is_stored() {
            return Ok(());
        }
        let mut commit = self.next_commit(self.status);
        origin.remove_in(&mut commit);
        self.apply(commit).await
    }

    /// A parked instance holds new events until an operator resumes it.
    async fn stash_event(
        &mut self,
        event: &EventEnvelope,
        origin: Origin,
    ) -> Result<Delivered, Error> {
        if origin == Origin::Stash {
            return Ok(Delivered::Parked);
        }
        let mut commit = self.next_commit(InstanceStatus::Parked);
        commit.stash.push(event.clone());
        origin.remove_in(&mut commit);
        self.apply(commit).await?;
        Counters::bump(&self.host.shared.counters.local().stashed);
        Ok(Delivered::Parked)
    }

    fn refuse(&self, event: &EventEnvelope, reason: Refusal) -> Error {
        Counters::bump(&self.host.shared.counters.local().refused);
        Error::Refused {
            pm: P::NAME,
            process_id: self.id.clone(),
            event_id: event.event_id,
            reason,
        }
    }

    pub(crate) fn on_finished(&self) {
        let counters = self.host.shared.counters.local();
        match self.status {
            InstanceStatus::Completed => Counters::bump(&counters.completed),
            InstanceStatus::Compensated => Counters::bump(&counters.compensated),
            _ => return,
        }
        tracing::info!(target: "pm_runtime::telemetry", telemetry = "stop", pm = P::NAME,
                       process_id = %self.id, status = %self.status);
    }

    /// Delivers the timer `timer_id` if this instance still holds it.
    pub(crate) async fn on_timer(&mut self, timer_id: Uuid) -> Result<Delivered, Error> {
        let Some(timer) = self.timers.iter().find(|t| t.timer_id == timer_id) else {
            return Ok(Delivered::Ignored);
        };
        let event = timer.event.clone();
        let Some(role) = Self::role_of(&event) else {
            self.consume(Origin::Timer(timer_id)).await?;
            return Ok(Delivered::Ignored);
        };
        Counters::bump(&self.host.shared.counters.local().timers_fired);
        let role = if role == Role::StartNew {
            Role::Start
        } else {
            role
        };
        self.on_event(&event, role, true, Origin::Timer(timer_id))
            .await
    }
}
