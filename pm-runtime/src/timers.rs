//! The timer wheel: arms durable timeouts and fires them at their instance when due.
//!
//! Timers are stored with their instance (the store is the truth); the wheel is an in-memory
//! index of when to wake, rebuilt from the store at start. Firing is at least once: the
//! instance drops a timer it no longer holds and deduplicates by the timer's id.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;
use uuid::Uuid;

use crate::clock::Clock;
use crate::ids::ProcessId;
use crate::instance::mailbox::Ticket;
use crate::router::Route;
use crate::shared::Shared;

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Armed {
    due_ms: u64,
    timer_id: Uuid,
    pm: String,
    process_id: ProcessId,
}

#[derive(Debug, Default)]
pub(crate) struct TimerWheel {
    heap: Mutex<BinaryHeap<Reverse<Armed>>>,
    wake: Notify,
}

impl TimerWheel {
    fn heap(&self) -> MutexGuard<'_, BinaryHeap<Reverse<Armed>>> {
        self.heap.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn arm(&self, pm: &str, process_id: ProcessId, timer_id: Uuid, due_ms: u64) {
        self.heap().push(Reverse(Armed {
            due_ms,
            timer_id,
            pm: pm.to_owned(),
            process_id,
        }));
        self.wake.notify_one();
    }

    /// When the earliest armed timer is due.
    pub(crate) fn next_due(&self) -> Option<u64> {
        self.heap().peek().map(|armed| armed.0.due_ms)
    }

    fn pop_due(&self, now_ms: u64) -> Vec<Armed> {
        let mut heap = self.heap();
        let mut due = Vec::new();
        while heap.peek().is_some_and(|armed| armed.0.due_ms <= now_ms) {
            if let Some(Reverse(armed)) = heap.pop() {
                due.push(armed);
            }
        }
        due
    }

    /// Fires timers as they fall due, for as long as the runtime lives.
    pub(crate) async fn run(
        self: Arc<Self>,
        shared: Arc<Shared>,
        routes: HashMap<&'static str, Arc<dyn Route>>,
    ) {
        loop {
            let sleep = self.next_due().map(|due| shared.clock.sleep_until(due));
            tokio::select! {
                () = async { match sleep { Some(s) => s.await, None => std::future::pending().await } } => {}
                () = self.wake.notified() => continue,
            }
            for armed in self.pop_due(shared.clock.now_ms()) {
                let Some(route) = routes.get(armed.pm.as_str()) else {
                    tracing::warn!(pm = %armed.pm, timer_id = %armed.timer_id,
                                   "timer of an unregistered process manager left in the store");
                    continue;
                };
                let route = Arc::clone(route);
                let ticket = Ticket::new(&shared.activity);
                tokio::spawn(async move {
                    route.fire_timer(armed.process_id, armed.timer_id).await;
                    drop(ticket);
                });
            }
        }
    }
}
