//! The command side: the `CommandDispatcher` users implement and the retry policy around it.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::envelope::CommandEnvelope;
use crate::error::DispatchError;

/// Sends commands to the command side (aggregates, another service, a bus).
///
/// The runtime calls it for each command in an instance's outbox, one at a time per instance
/// and in order, after the commit that queued the command. Return
/// [`DispatchError::Rejected`] when the command was refused for good (the saga then
/// compensates) and [`DispatchError::Unavailable`] when it may succeed later (it is retried
/// under the runtime's [`RetryPolicy`]). A command can be dispatched more than once (a retry
/// after a timeout, a restart before the success was recorded): deduplicate on
/// [`CommandEnvelope::idempotency_key`], which is stable across replays.
///
/// ```
/// use pm_runtime::{CommandDispatcher, CommandEnvelope, DispatchError};
///
/// struct Log;
///
/// impl CommandDispatcher for Log {
///     async fn dispatch(&self, command: &CommandEnvelope) -> Result<(), DispatchError> {
///         println!("{} -> {}/{}", command.command_type, command.aggregate_type, command.aggregate_id);
///         Ok(())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot dispatch commands",
    note = "implement `pm_runtime::CommandDispatcher` for `{Self}`: `async fn dispatch(&self, command: &CommandEnvelope) -> Result<(), DispatchError>`"
)]
pub trait CommandDispatcher: Send + Sync + 'static {
    /// Executes one command.
    fn dispatch(
        &self,
        command: &CommandEnvelope,
    ) -> impl Future<Output = Result<(), DispatchError>> + Send;
}

impl<D: CommandDispatcher + ?Sized> CommandDispatcher for std::sync::Arc<D> {
    fn dispatch(
        &self,
        command: &CommandEnvelope,
    ) -> impl Future<Output = Result<(), DispatchError>> + Send {
        (**self).dispatch(command)
    }
}

pub(crate) type DispatchFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), DispatchError>> + Send + 'a>>;

/// Object-safe form of [`CommandDispatcher`], so the runtime can hold any one.
pub(crate) trait ErasedDispatcher: Send + Sync + 'static {
    fn dispatch<'a>(&'a self, command: &'a CommandEnvelope) -> DispatchFuture<'a>;
}

impl<D: CommandDispatcher> ErasedDispatcher for D {
    fn dispatch<'a>(&'a self, command: &'a CommandEnvelope) -> DispatchFuture<'a> {
        Box::pin(CommandDispatcher::dispatch(self, command))
    }
}

/// How transient command failures ([`DispatchError::Unavailable`]) are retried.
///
/// The wait before attempt `n + 1` grows as `initial_backoff * 2^(n-1)`, capped at
/// `max_backoff`, with "equal jitter": half of it fixed, half random, so that instances that
/// failed together do not retry together. After `max_attempts` attempts the saga compensates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (at least 1).
    pub max_attempts: u32,
    /// Wait before the second attempt, before jitter.
    pub initial_backoff: Duration,
    /// Upper bound of any wait.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 100 ms growing to at most 10 s.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Whether another attempt follows failed attempt number `attempt` (1-based).
    pub fn should_retry(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }

    /// The wait after failed attempt number `attempt` (1-based), jitter included.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        half + half.mul_f64(jitter_fraction())
    }

    /// The wait after failed attempt `attempt` before jitter.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.initial_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }
}

/// A number in [0, 1) that differs between calls; not for cryptography.
fn jitter_fraction() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u64_pair().0 >> 11;
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_stays_within_jitter_bounds() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        };
        let ceilings: Vec<u128> = (1..=6).map(|a| policy.ceiling(a).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        for attempt in 1..=6 {
            let wait = policy.backoff(attempt);
            let ceiling = policy.ceiling(attempt);
            assert!(
                wait >= ceiling / 2 && wait <= ceiling,
                "{wait:?} vs {ceiling:?}"
            );
        }
        assert!(policy.should_retry(9));
        assert!(!policy.should_retry(10));
    }
}
