//! Event decode through the generated dispatch against decoding the concrete struct.
//!
//! Both sides start from the same JSON bytes and end with the handler having run on the
//! state. The headline pair starts from an owned buffer, as an event arrives from a store or
//! a transport (a `Vec<u8>` from a database driver, a `Bytes` from a broker client), and
//! drops it when done:
//!
//! - `dispatch_owned`: the buffer becomes an `EventEnvelope` (`EventEnvelope::from_json_bytes`,
//!   which takes it over without a copy and parses nothing), then `ProcessManager::handle`, the
//!   code `#[process_manager]` generates, matches the event type, decodes the payload into
//!   `Ticked` and calls the handler;
//! - `concrete_owned`: `serde_json::from_slice::<Ticked>` on the buffer and the handler, what a
//!   hand-written consumer does.
//!
//! The borrowed pair starts from a slice the caller keeps: the dispatch copies it into the
//! envelope (`bytes.to_vec()`), the concrete decode reads it in place. `payload` is
//! the envelope decoded with `EventEnvelope::decode::<Ticked>` and the handler called by hand,
//! which isolates the envelope's JSON step from the dispatch.
//!
//! The typed pair measures the in-process path, where nothing is serialised: `handle` on a
//! typed envelope against calling the handler on the struct.

use std::hint::black_box;
use std::time::Instant;

use pm_runtime::__private::context;
use pm_runtime::{Event, EventEnvelope, ProcessId, ProcessManager};
use uuid::Uuid;

use crate::saga::{Counter, Ticked};

/// The JSON bytes of one `Ticked`.
pub fn sample_json() -> Vec<u8> {
    serde_json::to_vec(&Ticked {
        id: "order-000123".into(),
        amount: 4200,
    })
    .expect("the event encodes")
}

/// Nanoseconds per call of `f` over `iters` calls.
pub fn ns_per_iter(iters: u64, mut f: impl FnMut(u64)) -> f64 {
    let started = Instant::now();
    for i in 0..iters {
        f(black_box(i));
    }
    started.elapsed().as_nanos() as f64 / iters.max(1) as f64
}

/// Nanoseconds per call of `f` on each of `buffers` in turn; the buffers are built before
/// the clock starts, so only taking each over (and freeing it) is timed.
pub fn ns_per_buffer(buffers: Vec<Vec<u8>>, mut f: impl FnMut(Vec<u8>)) -> f64 {
    let count = buffers.len().max(1) as f64;
    let started = Instant::now();
    for buffer in buffers {
        f(black_box(buffer));
    }
    started.elapsed().as_nanos() as f64 / count
}

/// `count` owned copies of `bytes`, each in its own exact-size allocation, as a driver hands
/// out one buffer per row or message.
pub fn owned_buffers(bytes: &[u8], count: usize) -> Vec<Vec<u8>> {
    (0..count).map(|_| bytes.to_vec()).collect()
}

/// A decoder/dispatcher pair over one state, for every variant.
#[derive(Debug)]
pub struct Decoder {
    state: Counter,
    process_id: ProcessId,
    event_id: Uuid,
    typed: EventEnvelope,
    concrete: Ticked,
}

impl Default for Decoder {
    fn default() -> Self {
        let concrete = Ticked {
            id: "order-000123".into(),
            amount: 4200,
        };
        Self {
            state: Counter::default(),
            process_id: ProcessId::new("order-000123"),
            event_id: Uuid::from_u128(1),
            typed: EventEnvelope::with_id(Uuid::from_u128(2), concrete.clone()),
            concrete,
        }
    }
}

impl Decoder {
    /// An owned JSON buffer → envelope (no copy) → generated dispatch → handler.
    pub fn dispatch_owned(&mut self, buffer: Vec<u8>) {
        let envelope = EventEnvelope::from_json_bytes(self.event_id, Ticked::NAME, buffer);
        self.dispatch_envelope(&envelope);
    }

    /// An owned JSON buffer → `Ticked` → handler; the buffer is freed after the decode.
    pub fn concrete_owned(&mut self, buffer: Vec<u8>) {
        self.concrete_json(&buffer);
    }

    /// Borrowed JSON bytes → envelope (a copy) → generated dispatch → handler.
    pub fn dispatch_json(&mut self, bytes: &[u8]) {
        self.dispatch_owned(bytes.to_vec());
    }

    /// The generated dispatch on an envelope already holding `bytes` (as the runtime gets it
    /// from a store or a transport) → handler. The dispatch keeps no decode in the envelope,
    /// so every call parses the JSON afresh.
    pub fn dispatch_envelope(&mut self, envelope: &EventEnvelope) {
        let mut ctx = context::<Counter>(self.process_id.clone());
        let commands = self
            .state
            .handle(envelope, &mut ctx)
            .expect("the event decodes");
        black_box(commands);
    }

    /// JSON bytes → envelope → `EventEnvelope::decode` → handler.
    pub fn payload_json(&mut self, bytes: &[u8]) {
        let envelope = EventEnvelope::from_json_bytes(self.event_id, Ticked::NAME, bytes.to_vec());
        let event = envelope.decode::<Ticked>().expect("the event decodes");
        self.state.ticked(&event);
    }

    /// JSON bytes → `Ticked` → handler.
    pub fn concrete_json(&mut self, bytes: &[u8]) {
        let event: Ticked = serde_json::from_slice(bytes).expect("the event decodes");
        self.state.ticked(&event);
    }

    /// Generated dispatch of a typed envelope → handler.
    pub fn dispatch_typed(&mut self) {
        let mut ctx = context::<Counter>(self.process_id.clone());
        let commands = self
            .state
            .handle(black_box(&self.typed), &mut ctx)
            .expect("the event decodes");
        black_box(commands);
    }

    /// Handler on the struct.
    pub fn concrete_typed(&mut self) {
        self.state.ticked(black_box(&self.concrete));
    }

    /// The state, so the work cannot be optimised away.
    pub fn state(&self) -> &Counter {
        &self.state
    }
}
