//! Parking: dead letters, and their resolution by an operator (retry or skip).

use super::mailbox::Delivered;
use super::{Instance, Origin};
use crate::error::Error;
use crate::process_manager::ProcessManager;
use crate::stats::Counters;
use crate::status::InstanceStatus;
use crate::store::{Change, DeadLetter, Settlement};

impl<P: ProcessManager> Instance<P> {
    /// Parks the instance with `dead_letter`: it stops handling events (they are stashed) and
    /// sending commands until an operator resumes it.
    pub(super) async fn park(
        &mut self,
        dead_letter: DeadLetter,
        origin: Origin,
    ) -> Result<(), Error> {
        let mut commit = self.next_commit(InstanceStatus::Parked);
        commit.dead_letter = Change::Set(Box::new(dead_letter));
        origin.remove_in(&mut commit);
        self.apply(commit).await?;
        Counters::bump(&self.host.shared.counters.local().parked);
        tracing::warn!(target: "pm_runtime::telemetry", telemetry = "parked", pm = P::NAME,
                       process_id = %self.id);
        Ok(())
    }

    /// Resumes a parked instance. `skip` drops the cause (the poison event is recorded as
    /// handled without running; the failed command is dropped uncompensated); otherwise the
    /// cause is tried again. Then the events stashed meanwhile are handled in order.
    pub(crate) async fn resume(&mut self, skip: bool) -> Result<(), Error> {
        let Some(dead_letter) = self
            .dead_letter
            .clone()
            .filter(|_| self.status == InstanceStatus::Parked)
        else {
            return Err(Error::NotParked {
                pm: P::NAME,
                process_id: self.id.clone(),
                status: self.status,
            });
        };
        let mut commit = self.next_commit(dead_letter.resume);
        commit.dead_letter = Change::Clear;
        if skip {
            if let Some(event) = &dead_letter.event {
                commit.handled = Some(event.event_id);
            }
            if let Some(command) = dead_letter.command.as_ref().filter(|c| {
                self.outbox
                    .front()
                    .is_some_and(|head| head.command_id == c.command_id)
            }) {
                commit
                    .settle
                    .push((command.command_id, Settlement::Cancelled));
                let last = self.outbox.len() == 1;
                commit.status = match dead_letter.resume {
                    InstanceStatus::Completing if last => InstanceStatus::Completed,
                    InstanceStatus::Compensating if last => InstanceStatus::Compensated,
                    status => status,
                };
            }
        }
        self.apply(commit).await?;
        Counters::bump(&self.host.shared.counters.local().resumed);
        self.on_finished();
        if let (Some(event), false) = (&dead_letter.event, skip)
            && let Some(role) = Self::role_of(event)
        {
            self.on_event(event, role, true, Origin::Mailbox).await?;
        }
        self.replay_stash().await
    }

    /// Handles the stashed events in arrival order, stopping if the instance parks again.
    pub(super) async fn replay_stash(&mut self) -> Result<(), Error> {
        while let Some(event) = self.stash.front().cloned() {
            if self.status == InstanceStatus::Parked {
                break;
            }
            let delivered = match Self::role_of(&event) {
                Some(role) => self.on_event(&event, role, true, Origin::Stash).await,
                None => self.consume_stash().await.map(|()| Delivered::Ignored),
            };
            if let Err(error) = delivered {
                // Finished instances refuse direct events; the stash then has nothing to do.
                if matches!(error, Error::Finished { .. }) {
                    self.consume_stash().await?;
                    continue;
                }
                return Err(error);
            }
        }
        Ok(())
    }

    async fn consume_stash(&mut self) -> Result<(), Error> {
        let mut commit = self.next_commit(self.status);
        commit.unstash = 1;
        self.apply(commit).await
    }
}
