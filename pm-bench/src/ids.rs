//! Command id generation: the deterministic UUIDv5 pair (`command_id`, `idempotency_key`)
//! every outgoing command gets, over (PM name, process id, causing event, index).

use std::hint::black_box;

use pm_runtime::{CommandIds, ProcessId};
use uuid::Uuid;

use crate::decode::ns_per_iter;

/// Nanoseconds per `CommandIds::derive` over `iters` calls.
pub fn command_ids_ns(iters: u64) -> f64 {
    let process_id = ProcessId::new("order-000123");
    let cause = Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
    ns_per_iter(iters, |i| {
        black_box(CommandIds::derive(
            "order_fulfillment",
            black_box(&process_id),
            black_box(cause),
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
