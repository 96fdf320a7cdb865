//! The demo's accounting: saga statuses, effects checked against them, the summary line.

use std::collections::HashMap;
use std::fmt;

use pm_runtime::{InstanceStatus, InstanceSummary};

/// What the summary line reports.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Sagas requested, across runs.
    pub sagas: i64,
    /// Sagas completed normally.
    pub completed: i64,
    /// Sagas completed by compensation.
    pub compensated: i64,
    /// Sagas parked for an operator.
    pub parked: i64,
    /// Sagas not finished.
    pub in_flight: i64,
    /// Finished sagas whose effects do not match their outcome.
    pub lost: i64,
    /// Effects applied more than once for one saga.
    pub duplicate_effects: i64,
}

impl Tally {
    /// Counts statuses; `instances` lists the sagas that exist in the store.
    pub fn count(sagas: i64, instances: &[InstanceSummary]) -> Self {
        let mut tally = Self {
            sagas,
            ..Self::default()
        };
        for instance in instances {
            match instance.status {
                InstanceStatus::Completed => tally.completed += 1,
                InstanceStatus::Compensated => tally.compensated += 1,
                InstanceStatus::Parked => tally.parked += 1,
                _ => {}
            }
        }
        tally.in_flight = sagas - tally.completed - tally.compensated - tally.parked;
        tally
    }

    /// Checks the applied effects against each finished saga's outcome: a completed saga
    /// charged, reserved and shipped, and was not refunded; a compensated one was charged and
    /// refunded, and not shipped. An effect applied twice is a duplicate.
    pub fn check_effects(
        &mut self,
        instances: &[InstanceSummary],
        effects: &[(String, String, i64)],
    ) {
        let mut by_saga: HashMap<&str, HashMap<&str, i64>> = HashMap::new();
        for (saga, command_type, count) in effects {
            by_saga
                .entry(saga)
                .or_default()
                .insert(command_type, *count);
            self.duplicate_effects += (count - 1).max(0);
        }
        let empty = HashMap::new();
        for instance in instances {
            let applied = by_saga.get(instance.process_id.as_str()).unwrap_or(&empty);
            let has = |t: &str| applied.get(t).copied().unwrap_or(0) > 0;
            let consistent = match instance.status {
                InstanceStatus::Completed => {
                    has("ChargePayment")
                        && has("ReserveStock")
                        && has("ShipOrder")
                        && !has("RefundPayment")
                }
                InstanceStatus::Compensated => {
                    has("ChargePayment") && has("RefundPayment") && !has("ShipOrder")
                }
                _ => true,
            };
            if !consistent {
                self.lost += 1;
            }
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sagas={} completed={} compensated={} parked={} in_flight={} lost={} duplicate_effects={}",
            self.sagas,
            self.completed,
            self.compensated,
            self.parked,
            self.in_flight,
            self.lost,
            self.duplicate_effects
        )
    }
}

/// A one-line progress bar on stderr.
pub(super) fn progress(tally: &Tally, events_per_s: f64) {
    const WIDTH: i64 = 30;
    let done = tally.completed + tally.compensated + tally.parked;
    let filled = if tally.sagas > 0 {
        done * WIDTH / tally.sagas
    } else {
        WIDTH
    };
    let bar: String = (0..WIDTH)
        .map(|i| if i < filled { '#' } else { '.' })
        .collect();
    eprint!(
        "\r[{bar}] {done}/{} sagas finished ({} compensated) {events_per_s:>8.0} events/s ",
        tally.sagas, tally.compensated
    );
}
