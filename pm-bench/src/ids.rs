//! Command id generation: the deterministic pair (`command_id`, `idempotency_key`) every
//! outgoing command gets, over (PM name, process id, causing event, index).
//!
//! The runtime hashes an instance's (PM name, process id) part once ([`InstanceIds`]) and
//! then pays one SHA-1 block per command: that is the measure. Deriving from scratch
//! ([`CommandIds::derive`], what a receiver recomputing an id would call) is printed beside it.

use std::hint::black_box;

use pm_runtime::{CommandIds, InstanceIds, ProcessId};
use uuid::Uuid;

use crate::decode::ns_per_iter;

const PM: &str = "order_fulfillment";
const CAUSE: Uuid = Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0);

/// Nanoseconds per command's ids as the runtime derives them, over `iters` calls.
pub fn command_ids_ns(iters: u64) -> f64 {
    let ids = InstanceIds::new(PM, &ProcessId::new("order-000123"));
    ns_per_iter(iters, |i| {
        black_box(black_box(&ids).command(black_box(CAUSE), i as u32));
    })
}

/// Nanoseconds per `CommandIds::derive` (no cached prefix) over `iters` calls.
pub fn command_ids_from_scratch_ns(iters: u64) -> f64 {
    let process_id = ProcessId::new("order-000123");
    ns_per_iter(iters, |i| {
        black_box(CommandIds::derive(
            PM,
            black_box(&process_id),
            black_box(CAUSE),
            i as u32,
        ));
    })
}

/// Nanoseconds per `Uuid::new_v4`, the random event id `EventEnvelope::new` draws, for
/// comparison.
pub fn uuid_v4_ns(iters: u64) -> f64 {
    ns_per_iter(iters, |_| {
        black_box(Uuid::new_v4());
    })
}
