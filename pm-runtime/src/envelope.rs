//! Envelopes: an event or a command with the ids and metadata that travel with it.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::EventError;
use crate::message::{Command, Event};
use crate::payload::{Decoded, JsonBytes, Payload, PayloadError};

/// Free-form metadata carried by events and commands.
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// An event with its identity and position.
///
/// [`Runtime::publish`](crate::Runtime::publish) builds one from a typed event; build it
/// yourself (with [`EventEnvelope::new`] or a struct literal) to carry ids from your event
/// store, so that a redelivery is recognised by its `event_id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// Unique id of the event; instances skip an id they have already handled (they record
    /// the ids of envelopes and timeouts, not the fresh ones `Runtime::publish` draws).
    pub event_id: Uuid,
    /// The event type name, [`Event::NAME`].
    pub event_type: Cow<'static, str>,
    /// The stream (aggregate) the event was appended to, when known.
    pub stream_id: Option<String>,
    /// The event's position in its source, when known.
    pub position: Option<u64>,
    /// The business transaction this event belongs to; inherited by the commands it causes.
    pub correlation_id: Option<String>,
    /// The command or event that caused this event.
    pub causation_id: Option<Uuid>,
    /// Free-form metadata.
    pub metadata: Metadata,
    /// The event itself.
    pub payload: Payload,
}

impl EventEnvelope {
    /// An envelope around a typed event, with a fresh random id and no position.
    pub fn new<E: Event>(event: E) -> Self {
        Self::with_id(Uuid::new_v4(), event)
    }

    /// An envelope around a typed event with the given id.
    pub fn with_id<E: Event>(event_id: Uuid, event: E) -> Self {
        Self::with_payload(event_id, Cow::Borrowed(E::NAME), Payload::typed(event))
    }

    /// An envelope around a JSON payload, as it arrives from a store or a transport.
    pub fn from_json(
        event_id: Uuid,
        event_type: impl Into<Cow<'static, str>>,
        payload: serde_json::Value,
    ) -> Self {
        Self::with_payload(event_id, event_type.into(), Payload::json(payload))
    }

    /// An envelope around JSON bytes, as they arrive from a store or a transport: the buffer
    /// is taken over without a copy and decoded straight into the handler's event type on
    /// first use (see [`Payload::from_json_bytes`] for the buffers it takes), the cheapest way
    /// to feed stored events in.
    pub fn from_json_bytes(
        event_id: Uuid,
        event_type: impl Into<Cow<'static, str>>,
        payload: impl Into<JsonBytes>,
    ) -> Self {
        Self::with_payload(
            event_id,
            event_type.into(),
            Payload::from_json_bytes(payload),
        )
    }

    fn with_payload(event_id: Uuid, event_type: Cow<'static, str>, payload: Payload) -> Self {
        Self {
            event_id,
            event_type,
            stream_id: None,
            position: None,
            correlation_id: None,
            causation_id: None,
            metadata: Metadata::new(),
            payload,
        }
    }

    /// The event as `E`; fails when the payload does not decode as one. A JSON payload's
    /// first decode is kept for later readers (see [`Payload::decode`]).
    #[inline]
    pub fn decode<E: Event>(&self) -> Result<Decoded<'_, E>, EventError> {
        self.payload_error(self.payload.decode::<E>())
    }

    /// As [`EventEnvelope::decode`], without keeping a fresh decode (see
    /// [`Payload::decode_once`]).
    #[inline]
    pub fn decode_once<E: Event>(&self) -> Result<Decoded<'_, E>, EventError> {
        self.payload_error(self.payload.decode_once::<E>())
    }

    #[inline]
    fn payload_error<T>(&self, decoded: Result<T, PayloadError>) -> Result<T, EventError> {
        decoded.map_err(|source| self.undecodable(source))
    }

    // Out of line: the decode a handler runs on every event stays small.
    #[cold]
    #[inline(never)]
    fn undecodable(&self, source: PayloadError) -> EventError {
        EventError::Payload {
            event_type: self.event_type.to_string(),
            event_id: self.event_id,
            source,
        }
    }

    /// A view of everything but the payload.
    pub fn meta(&self) -> EventMeta<'_> {
        EventMeta(self)
    }
}

/// The identity and metadata of the event being handled, without its payload.
///
/// `correlate_with` functions receive it beside the event.
#[derive(Debug, Clone, Copy)]
pub struct EventMeta<'a>(&'a EventEnvelope);

impl<'a> EventMeta<'a> {
    /// The event's id.
    pub fn event_id(&self) -> Uuid {
        self.0.event_id
    }
    /// The event type name.
    pub fn event_type(&self) -> &'a str {
        &self.0.event_type
    }
    /// The stream the event was appended to, when known.
    pub fn stream_id(&self) -> Option<&'a str> {
        self.0.stream_id.as_deref()
    }
    /// The event's position in its source, when known.
    pub fn position(&self) -> Option<u64> {
        self.0.position
    }
    /// The event's correlation id, when it has one.
    pub fn correlation_id(&self) -> Option<&'a str> {
        self.0.correlation_id.as_deref()
    }
    /// What caused the event, when known.
    pub fn causation_id(&self) -> Option<Uuid> {
        self.0.causation_id
    }
    /// Free-form metadata.
    pub fn metadata(&self) -> &'a Metadata {
        &self.0.metadata
    }
}

/// A command on its way to the command side, with evoq's fields.
///
/// The runtime fills every id: `command_id` and `idempotency_key` are deterministic (see
/// [`CommandIds`](crate::CommandIds)), `causation_id` is the event (or, for a compensation,
/// the failed command) that caused it, and `correlation_id` is inherited from that event, or
/// is the process id when the event had none.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandEnvelope {
    /// The command's deterministic id.
    pub command_id: Uuid,
    /// The command type name, [`Command::NAME`].
    pub command_type: Cow<'static, str>,
    /// The aggregate type that executes it, [`Command::AGGREGATE`].
    pub aggregate_type: Cow<'static, str>,
    /// The aggregate instance that executes it.
    pub aggregate_id: String,
    /// The command itself.
    pub payload: Payload,
    /// Free-form metadata.
    pub metadata: Metadata,
    /// The event (or failed command) that caused this command.
    pub causation_id: Option<Uuid>,
    /// The business transaction the command belongs to.
    pub correlation_id: String,
    /// The key receivers deduplicate on; stable across replays.
    pub idempotency_key: Uuid,
}

impl CommandEnvelope {
    /// The command as `C`; fails when the payload does not decode as one.
    pub fn decode<C: Command>(&self) -> Result<Decoded<'_, C>, PayloadError> {
        self.payload.decode::<C>()
    }

    /// Whether this is a command of type `C`.
    pub fn is<C: Command>(&self) -> bool {
        self.command_type == C::NAME
    }
}
