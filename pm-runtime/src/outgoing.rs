//! What a handler's output becomes: command envelopes and durable timers with deterministic
//! ids. The runtime's instances and the test fixture both build them here, so the fixture
//! shows exactly the ids and envelopes the runtime would send.

use std::time::Duration;

use uuid::Uuid;

use crate::context::Scheduled;
use crate::envelope::{CommandEnvelope, EventEnvelope, Metadata};
use crate::ids::{InstanceIds, ProcessId, timer_id};
use crate::process_manager::CommandSet;
use crate::store::Timer;

/// Turns a handler's commands into envelopes: ids derived from `cause` and each command's
/// index, causation from `causation_id`, correlation inherited.
pub(crate) fn command_envelopes<C: CommandSet>(
    ids: &InstanceIds,
    commands: Vec<C>,
    cause: Uuid,
    causation_id: Uuid,
    correlation_id: &str,
) -> Vec<CommandEnvelope> {
    commands
        .into_iter()
        .enumerate()
        .map(|(index, command)| {
            let parts = command.into_parts();
            let ids = ids.command(cause, index as u32);
            CommandEnvelope {
                command_id: ids.command_id,
                command_type: parts.command_type.into(),
                aggregate_type: parts.aggregate_type.into(),
                aggregate_id: parts.aggregate_id,
                payload: parts.payload,
                metadata: Metadata::new(),
                causation_id: Some(causation_id),
                correlation_id: correlation_id.to_owned(),
                idempotency_key: ids.idempotency_key,
            }
        })
        .collect()
}

/// The durable timers of the timeouts a handler scheduled while handling `cause`, due
/// relative to `now_ms`.
pub(crate) fn timers(
    pm: &'static str,
    process_id: &ProcessId,
    scheduled: Vec<Scheduled>,
    cause: Uuid,
    correlation_id: &str,
    now_ms: u64,
) -> Vec<Timer> {
    let timer = |(index, scheduled): (usize, Scheduled)| {
        let id = timer_id(pm, process_id, cause, index as u32);
        Timer {
            timer_id: id,
            due_at_ms: now_ms.saturating_add(millis(scheduled.after)),
            event: EventEnvelope {
                event_id: id,
                event_type: scheduled.event_type.into(),
                stream_id: None,
                position: None,
                correlation_id: Some(correlation_id.to_owned()),
                causation_id: Some(cause),
                metadata: Metadata::new(),
                payload: scheduled.payload,
            },
        }
    };
    scheduled.into_iter().enumerate().map(timer).collect()
}

/// Milliseconds of `d`, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
