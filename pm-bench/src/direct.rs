//! The floor: the handler functions called in a loop on a `HashMap<String, Counter>`, one
//! thread, no tokio. Per event it builds the event (cloning the id, as a publisher does),
//! looks the state up by process id and runs the handler; nothing else.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::saga::{Counter, Opened, Ticked, instance_ids};

/// Opens `instances` states, then handles `events` `Ticked` events round robin over them;
/// returns the time the events took.
pub fn direct_loop(instances: usize, events: usize) -> Duration {
    let ids = instance_ids(instances.max(1));
    let mut states: HashMap<String, Counter> = HashMap::with_capacity(ids.len());
    for id in &ids {
        states
            .entry(id.clone())
            .or_default()
            .opened(&Opened { id: id.clone() });
    }
    let started = Instant::now();
    for k in 0..events {
        let event = Ticked {
            id: ids[k % ids.len()].clone(),
            amount: k as u64,
        };
        if let Some(state) = states.get_mut(&event.id) {
            state.ticked(black_box(&event));
        }
    }
    let elapsed = started.elapsed();
    black_box(&states);
    elapsed
}
