//! The lifecycle status of an instance.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an instance is in its life.
///
/// `Completing` and `Compensating` are running instances that accept no more events and are
/// finishing their outbox; they end as `Completed` or `Compensated`. A finished instance stays
/// in the store as a tombstone so that a late or redelivered start event cannot resurrect it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceStatus {
    /// Handling events.
    Running,
    /// Stopped by `#[stop]` or `ctx.stop()`; its last commands are going out.
    Completing,
    /// Aborted after a command failed; its compensations are going out.
    Compensating,
    /// Finished normally.
    Completed,
    /// Finished by compensation.
    Compensated,
    /// Waiting for an operator.
    Parked,
}

impl InstanceStatus {
    /// Whether the instance has finished (it is a tombstone).
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Compensated)
    }

    /// Whether the instance still takes events.
    pub fn accepts_events(self) -> bool {
        matches!(self, Self::Running)
    }

    /// The status as a lowercase word, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completing => "completing",
            Self::Compensating => "compensating",
            Self::Completed => "completed",
            Self::Compensated => "compensated",
            Self::Parked => "parked",
        }
    }
}

impl fmt::Display for InstanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
