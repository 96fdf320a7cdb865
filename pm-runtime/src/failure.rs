//! Command failures and what a process manager decides to do about them.

use std::time::Duration;

use crate::envelope::CommandEnvelope;
use crate::error::DispatchError;

/// A command the command side did not execute, as `#[on_error]` and `ctx.failure()` see it.
#[derive(Debug, Clone)]
pub struct CommandFailure {
    /// The failed command.
    pub command: CommandEnvelope,
    /// Why it failed.
    pub error: DispatchError,
    /// Which attempt failed, from 1.
    pub attempt: u32,
}

/// What to do about a failed command: the answer of an `#[on_error]` handler (Commanded's
/// `error/3`). `C` is the process manager's command enum (`<Type>Command`).
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorAction<C> {
    /// Send the same command again after `after`.
    Retry {
        /// How long to wait first.
        after: Duration,
    },
    /// Abort the saga: compensate what completed, newest first.
    Compensate,
    /// Send these commands instead of the failed one and of those still queued behind it.
    Continue(Vec<C>),
    /// Treat the failed command as done (it is not compensated later) and go on.
    Skip,
    /// Stop and wait for an operator (`Runtime::retry_parked` / `skip_parked`).
    Park,
}
