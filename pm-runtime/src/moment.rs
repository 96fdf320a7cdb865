//! The monotonic clock of latencies and idle times.
//!
//! Every handled event reads it twice: the handling's latency, whose end also dates the
//! instance's idleness. `std::time::Instant` asks the kernel's clock source, which on a VM is
//! the hypervisor's (about 25 ns a read on the machine of the README's figures, and the pair
//! cost the routed path 8% of its throughput); `quanta` reads the CPU's time-stamp counter
//! when it is invariant and calibrated against the OS clock, and falls back to the OS clock
//! otherwise.
//!
//! It is real time, not tokio's: a paused tokio clock does not move it. Only the idle sweep
//! compares it with an idle timeout, and that sweep is paced by tokio's timer, so in a test
//! with a paused clock an instance passivates once both have moved on.

/// A point in time on the fast monotonic clock.
pub(crate) type Moment = quanta::Instant;

/// Now.
#[inline]
pub(crate) fn now() -> Moment {
    Moment::now()
}
