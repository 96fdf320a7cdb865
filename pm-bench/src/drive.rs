//! Concurrent publishers, shared by the runtime and the baseline router so both see the same
//! load.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

/// Sends `events` events from `publishers` concurrent tasks and returns the wall time until
/// the last one was answered.
///
/// Publisher `p` sends its `k`-th event to instance `(p + k * publishers) % instances`, and
/// waits for each answer before its next send (as `Runtime::publish` callers do). With
/// `events == instances` every instance gets exactly one event. `send(instance, k)` must
/// return once the event is handled.
pub async fn drive<F, Fut>(instances: usize, events: usize, publishers: usize, send: F) -> Duration
where
    F: Fn(usize, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let instances = instances.max(1);
    let publishers = publishers.clamp(1, events.max(1));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for p in 0..publishers {
        let share = events / publishers + usize::from(p < events % publishers);
        let send = send.clone();
        tasks.spawn(async move {
            for k in 0..share {
                send((p + k * publishers) % instances, k as u64).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a publisher task panicked");
    }
    started.elapsed()
}

/// Events per second.
pub fn per_second(events: usize, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64().max(1e-9)
}
