//! Event decode through the generated dispatch against decoding the concrete struct.
//!
//! Both sides start from the same JSON bytes (an event as it arrives from a store or a
//! transport) and end with the handler having run on the state:
//!
//! - `dispatch`: the bytes become an `EventEnvelope` (`EventEnvelope::from_json_bytes`, which
//!   copies them and parses nothing), then `ProcessManager::handle`, the code `#[process_manager]` generates,
//!   matches the event type, decodes the payload into `Ticked` and calls the handler;
//! - `payload`: the same envelope decoded with `EventEnvelope::decode::<Ticked>` and the
//!   handler called by hand, which isolates the envelope's JSON step from the dispatch;
//! - `concrete`: `serde_json::from_slice::<Ticked>` and the handler, what a hand-written
//!   consumer does.
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

/// A decoder/dispatcher pair over one state, for the four variants.
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
    /// JSON bytes → envelope → generated dispatch → handler.
    pub fn dispatch_json(&mut self, bytes: &[u8]) {
        let envelope = EventEnvelope::from_json_bytes(self.event_id, Ticked::NAME, bytes);
        self.dispatch_envelope(&envelope);
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
        let envelope = EventEnvelope::from_json_bytes(self.event_id, Ticked::NAME, bytes);
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
