//! Event and command payloads: a typed value on the in-process path, JSON when it came from
//! (or must go to) bytes.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why a payload could not be read as the requested type.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// The JSON did not match the type's shape.
    #[error("payload is not a valid `{type_name}`: {source}")]
    Json {
        /// The type that was requested.
        type_name: &'static str,
        /// What serde_json reported.
        #[source]
        source: serde_json::Error,
    },
    /// A typed payload holds a different Rust type than the one requested.
    #[error("payload holds a `{found}`, not the requested `{expected}`")]
    TypeMismatch {
        /// The type that was requested.
        expected: &'static str,
        /// The type the payload holds.
        found: &'static str,
    },
}

/// A value that can be serialised later, behind a type-erased pointer.
trait ErasedValue: Any + Send + Sync {
    fn to_json(&self) -> Result<Value, serde_json::Error>;
    fn as_any(&self) -> &dyn Any;
    fn type_name(&self) -> &'static str;
}

impl<T: Serialize + Send + Sync + 'static> ErasedValue for T {
    fn to_json(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}

#[derive(Clone)]
enum Repr {
    Typed(Arc<dyn ErasedValue>),
    Json(Json),
}

/// A JSON payload and its first decode. The decode sits beside the shared source rather
/// than behind it, so wrapping a buffer allocates nothing; clones keep the decode made so far.
#[derive(Clone)]
struct Json {
    source: Source,
    // The first decode is kept so routing and handling do not parse the JSON twice.
    decoded: OnceLock<Arc<dyn ErasedValue>>,
}

#[derive(Clone)]
enum Source {
    Value(Arc<Value>),
    /// Bytes as they came from a store or a transport: decoded straight into the handler's
    /// type, never through a `Value`.
    Bytes(JsonBytes),
}

/// JSON bytes that [`Payload::from_json_bytes`] and
/// [`EventEnvelope::from_json_bytes`](crate::EventEnvelope::from_json_bytes) take over
/// without a copy. Built with `From`/`Into` from what drivers and clients hand out: a
/// `Vec<u8>`, a `String`, a `Box<[u8]>`, a [`Bytes`], a `&'static [u8]` or a `&'static str`.
///
/// An owned buffer is kept as it is: turning it into a `Bytes` and dropping that cost the
/// decode of a small event about 6 ns of its 105. Cloning a payload built from one
/// copies the bytes (envelopes are shared behind an `Arc` wherever the runtime passes one
/// event to several places); build it from a `Bytes` for clones that share them.
#[derive(Clone)]
pub struct JsonBytes(Buffer);

#[derive(Clone)]
enum Buffer {
    Owned(Vec<u8>),
    Shared(Bytes),
}

impl From<Vec<u8>> for JsonBytes {
    #[inline]
    fn from(bytes: Vec<u8>) -> Self {
        Self(Buffer::Owned(bytes))
    }
}

impl From<String> for JsonBytes {
    #[inline]
    fn from(text: String) -> Self {
        Self(Buffer::Owned(text.into_bytes()))
    }
}

impl From<Box<[u8]>> for JsonBytes {
    #[inline]
    fn from(bytes: Box<[u8]>) -> Self {
        Self(Buffer::Owned(bytes.into_vec()))
    }
}

impl From<Bytes> for JsonBytes {
    #[inline]
    fn from(bytes: Bytes) -> Self {
        Self(Buffer::Shared(bytes))
    }
}

impl From<&'static [u8]> for JsonBytes {
    #[inline]
    fn from(bytes: &'static [u8]) -> Self {
        Self(Buffer::Shared(Bytes::from_static(bytes)))
    }
}

impl From<&'static str> for JsonBytes {
    #[inline]
    fn from(text: &'static str) -> Self {
        Self(Buffer::Shared(Bytes::from_static(text.as_bytes())))
    }
}

impl JsonBytes {
    #[inline]
    fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Buffer::Owned(bytes) => bytes,
            Buffer::Shared(bytes) => bytes,
        }
    }
}

impl fmt::Debug for JsonBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonBytes({})", String::from_utf8_lossy(self.as_slice()))
    }
}

impl Json {
    fn new(source: Source) -> Self {
        Self {
            source,
            decoded: OnceLock::new(),
        }
    }

    #[inline]
    fn parse<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        let parsed = match &self.source {
            Source::Value(value) => T::deserialize(&**value),
            Source::Bytes(bytes) => serde_json::from_slice(bytes.as_slice()),
        };
        parsed.map_err(|source| PayloadError::Json {
            type_name: std::any::type_name::<T>(),
            source,
        })
    }
}

/// The body of an event or a command.
///
/// Published values stay typed: handlers borrow them without any serialisation. Payloads that
/// arrive as JSON (from a store, a transport, [`Payload::json`], [`Payload::from_json_bytes`])
/// are decoded on first use, and that decode is kept for later uses.
#[derive(Clone)]
pub struct Payload(Repr);

impl Payload {
    /// Wraps a typed value.
    pub fn typed<T: Serialize + Send + Sync + 'static>(value: T) -> Self {
        Self(Repr::Typed(Arc::new(value)))
    }

    /// Wraps a JSON value, decoded lazily.
    pub fn json(value: Value) -> Self {
        Self(Repr::Json(Json::new(Source::Value(Arc::new(value)))))
    }

    /// Wraps JSON bytes without parsing them: the first use decodes them straight into the
    /// requested type, the fastest way in for events read from a store or a transport.
    /// Bytes that are not JSON fail there, with a [`PayloadError`] naming the type.
    ///
    /// The buffer is taken over, not copied (see [`JsonBytes`]): a `Vec<u8>` or a `String`
    /// (as a database driver or a serialiser hands them out), a `Box<[u8]>`, a [`Bytes`] (as
    /// `async-nats` and other tokio-based clients do), or static bytes. A slice you only
    /// borrow goes in as `slice.to_vec()`; that copy is the only one.
    pub fn from_json_bytes(bytes: impl Into<JsonBytes>) -> Self {
        Self(Repr::Json(Json::new(Source::Bytes(bytes.into()))))
    }

    /// Checks that `bytes` are one JSON value, then keeps a copy of them as
    /// [`Payload::from_json_bytes`] does.
    pub fn from_json_slice(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice::<serde::de::IgnoredAny>(bytes)?;
        Ok(Self::from_json_bytes(bytes.to_vec()))
    }

    /// Whether this payload holds a typed value (no serialisation has happened).
    pub fn is_typed(&self) -> bool {
        matches!(self.0, Repr::Typed(_))
    }

    /// The payload as `T`: borrowed when it already is one, decoded from JSON otherwise. The
    /// first decode of a JSON payload is kept, so later decodes (routing, then handling)
    /// borrow it.
    pub fn decode<T>(&self) -> Result<Decoded<'_, T>, PayloadError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        self.read(true)
    }

    /// As [`Payload::decode`], but a JSON payload not decoded before is decoded into an owned
    /// value and not kept: for the last reader, which would pay for keeping it and never use it.
    #[inline]
    pub fn decode_once<T>(&self) -> Result<Decoded<'_, T>, PayloadError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        self.read(false)
    }

    // Inlined into the generated dispatch: returned through a call, the decoded value is
    // stored and reloaded at every layer, which cost the typed path half its time.
    #[inline(always)]
    fn read<T>(&self, keep: bool) -> Result<Decoded<'_, T>, PayloadError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        match &self.0 {
            Repr::Typed(value) => value
                .as_any()
                .downcast_ref::<T>()
                .map(Decoded::Borrowed)
                .ok_or_else(|| PayloadError::TypeMismatch {
                    expected: std::any::type_name::<T>(),
                    found: value.type_name(),
                }),
            Repr::Json(json) => {
                if let Some(cached) = json.decoded.get() {
                    return match cached.as_any().downcast_ref::<T>() {
                        Some(typed) => Ok(Decoded::Borrowed(typed)),
                        // Cached as another type (two PM types read the event differently).
                        None => json.parse().map(Decoded::Owned),
                    };
                }
                let typed = json.parse::<T>()?;
                if !keep {
                    return Ok(Decoded::Owned(typed));
                }
                let stored = json.decoded.get_or_init(|| Arc::new(typed));
                match stored.as_any().downcast_ref::<T>() {
                    Some(typed) => Ok(Decoded::Borrowed(typed)),
                    // Another thread cached a different type first: decode again, owned.
                    None => json.parse().map(Decoded::Owned),
                }
            }
        }
    }

    /// The payload as JSON, serialising a typed value or parsing bytes.
    pub fn to_json(&self) -> Result<Cow<'_, Value>, serde_json::Error> {
        match &self.0 {
            Repr::Typed(value) => value.to_json().map(Cow::Owned),
            Repr::Json(json) => match &json.source {
                Source::Value(value) => Ok(Cow::Borrowed(value)),
                Source::Bytes(bytes) => serde_json::from_slice(bytes.as_slice()).map(Cow::Owned),
            },
        }
    }
}

/// Serialises as the payload's JSON, whether it is typed or already JSON.
impl Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json()
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

/// Deserialises into a JSON payload, decoded lazily on first use.
impl<'de> serde::Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::json)
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Typed(value) => write!(f, "Payload::Typed({})", value.type_name()),
            Repr::Json(json) => match &json.source {
                Source::Value(value) => write!(f, "Payload::Json({value})"),
                Source::Bytes(bytes) => {
                    write!(
                        f,
                        "Payload::Json({})",
                        String::from_utf8_lossy(bytes.as_slice())
                    )
                }
            },
        }
    }
}

/// A decoded payload: borrowed from a typed payload, or owned after a JSON decode.
///
/// Dereferences to `T`.
pub enum Decoded<'a, T> {
    /// The payload already held a `T`.
    Borrowed(&'a T),
    /// The payload was decoded into a fresh `T`.
    Owned(T),
}

impl<T> Deref for Decoded<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            Self::Borrowed(value) => value,
            Self::Owned(value) => value,
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Decoded<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct A {
        x: u32,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct B {
        y: String,
    }

    #[test]
    fn typed_payloads_are_borrowed_and_reject_other_types() {
        let p = Payload::typed(A { x: 1 });
        assert!(matches!(p.decode::<A>(), Ok(Decoded::Borrowed(A { x: 1 }))));
        assert!(matches!(
            p.decode::<B>(),
            Err(PayloadError::TypeMismatch { .. })
        ));
        assert_eq!(
            p.to_json().unwrap().into_owned(),
            serde_json::json!({"x": 1})
        );
    }

    #[test]
    fn json_payloads_decode_once_and_name_the_type_on_error() {
        let p = Payload::json(serde_json::json!({"x": 5}));
        assert_eq!(*p.decode::<A>().unwrap(), A { x: 5 });
        assert!(matches!(p.decode::<A>(), Ok(Decoded::Borrowed(_))));
        let err = p.decode::<B>().unwrap_err().to_string();
        assert!(err.contains("B"), "{err}");
        assert!(err.contains("missing field `y`"), "{err}");
    }

    #[test]
    fn json_bytes_decode_straight_into_the_type() {
        let p = Payload::from_json_slice(br#"{"x": 7}"#).unwrap();
        assert_eq!(*p.decode::<A>().unwrap(), A { x: 7 });
        assert!(matches!(p.decode::<A>(), Ok(Decoded::Borrowed(_))));
        assert_eq!(
            p.to_json().unwrap().into_owned(),
            serde_json::json!({"x": 7})
        );
        // A second type reads the same bytes, owned, without disturbing the cache.
        let q = Payload::from_json_bytes(br#"{"x": 1, "y": "z"}"#.to_vec());
        assert_eq!(*q.decode::<A>().unwrap(), A { x: 1 });
        assert_eq!(q.decode::<B>().unwrap().y, "z");
    }

    /// Where a JSON payload keeps its bytes.
    fn kept(p: &Payload) -> *const u8 {
        match &p.0 {
            Repr::Json(Json {
                source: Source::Bytes(bytes),
                ..
            }) => bytes.as_slice().as_ptr(),
            _ => panic!("JSON bytes are kept as bytes: {p:?}"),
        }
    }

    #[test]
    fn owned_buffers_are_taken_over_without_a_copy() {
        let buffer = br#"{"x": 9}"#.to_vec();
        let at = buffer.as_ptr();
        let p = Payload::from_json_bytes(buffer);
        assert_eq!(kept(&p), at, "the Vec was copied");
        assert_eq!(*p.decode_once::<A>().unwrap(), A { x: 9 });

        let text = String::from(r#"{"x": 10}"#);
        let at = text.as_ptr();
        let p = Payload::from_json_bytes(text);
        assert_eq!(kept(&p), at, "the String was copied");
        assert_eq!(*p.decode_once::<A>().unwrap(), A { x: 10 });
    }

    #[test]
    fn shared_bytes_stay_shared_across_clones() {
        let bytes = Bytes::from_static(br#"{"x": 11}"#);
        let p = Payload::from_json_bytes(bytes.clone());
        let q = p.clone();
        assert_eq!(kept(&p), bytes.as_ptr());
        assert_eq!(kept(&q), bytes.as_ptr(), "a clone copied shared bytes");
        assert_eq!(*q.decode_once::<A>().unwrap(), A { x: 11 });
        // An owned buffer is copied by a clone: each copy decodes on its own.
        let r = Payload::from_json_bytes(br#"{"x": 12}"#.to_vec());
        assert_ne!(kept(&r), kept(&r.clone()));
        assert_eq!(*r.clone().decode_once::<A>().unwrap(), A { x: 12 });
    }

    #[test]
    fn decode_once_keeps_nothing_but_uses_what_was_kept() {
        let p = Payload::from_json_bytes(br#"{"x": 3}"#.to_vec());
        assert!(matches!(
            p.decode_once::<A>(),
            Ok(Decoded::Owned(A { x: 3 }))
        ));
        assert!(matches!(p.decode_once::<A>(), Ok(Decoded::Owned(_))));
        assert!(matches!(p.decode::<A>(), Ok(Decoded::Borrowed(_))));
        assert!(matches!(p.decode_once::<A>(), Ok(Decoded::Borrowed(_))));
    }

    #[test]
    fn malformed_json_bytes_are_refused_up_front_or_named_at_decode() {
        assert!(Payload::from_json_slice(b"{\"x\": ").is_err());
        let p = Payload::from_json_bytes(b"not json".to_vec());
        let err = p.decode::<A>().unwrap_err().to_string();
        assert!(err.contains("`") && err.contains("A"), "{err}");
        assert!(p.to_json().is_err());
    }
}
