//! Event and command payloads: a typed value on the in-process path, JSON when it came from
//! (or must go to) bytes.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

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
    Json {
        value: Arc<Value>,
        // The first decode is kept so routing and handling do not parse the JSON twice.
        decoded: Arc<OnceLock<Arc<dyn ErasedValue>>>,
    },
}

/// The body of an event or a command.
///
/// Published values stay typed: handlers borrow them without any serialisation. Payloads that
/// arrive as JSON (from a store, a transport, [`Payload::json`]) are decoded on first use.
#[derive(Clone)]
pub struct Payload(Repr);

impl Payload {
    /// Wraps a typed value.
    pub fn typed<T: Serialize + Send + Sync + 'static>(value: T) -> Self {
        Self(Repr::Typed(Arc::new(value)))
    }

    /// Wraps a JSON value, decoded lazily.
    pub fn json(value: Value) -> Self {
        Self(Repr::Json {
            value: Arc::new(value),
            decoded: Arc::default(),
        })
    }

    /// Parses JSON bytes.
    pub fn from_json_slice(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes).map(Self::json)
    }

    /// Whether this payload holds a typed value (no serialisation has happened).
    pub fn is_typed(&self) -> bool {
        matches!(self.0, Repr::Typed(_))
    }

    /// The payload as `T`: borrowed when it already is one, decoded from JSON otherwise.
    pub fn decode<T>(&self) -> Result<Decoded<'_, T>, PayloadError>
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
            Repr::Json { value, decoded } => {
                if let Some(cached) = decoded.get()
                    && let Some(typed) = cached.as_any().downcast_ref::<T>()
                {
                    return Ok(Decoded::Borrowed(typed));
                }
                let typed = T::deserialize(&**value).map_err(|source| PayloadError::Json {
                    type_name: std::any::type_name::<T>(),
                    source,
                })?;
                if decoded.get().is_none() {
                    let stored = decoded.get_or_init(|| Arc::new(typed));
                    if let Some(typed) = stored.as_any().downcast_ref::<T>() {
                        return Ok(Decoded::Borrowed(typed));
                    }
                    // Another thread cached a different type first: decode again, owned.
                    return T::deserialize(&**value)
                        .map(Decoded::Owned)
                        .map_err(|source| PayloadError::Json {
                            type_name: std::any::type_name::<T>(),
                            source,
                        });
                }
                Ok(Decoded::Owned(typed))
            }
        }
    }

    /// The payload as JSON, serialising a typed value.
    pub fn to_json(&self) -> Result<Cow<'_, Value>, serde_json::Error> {
        match &self.0 {
            Repr::Typed(value) => value.to_json().map(Cow::Owned),
            Repr::Json { value, .. } => Ok(Cow::Borrowed(value)),
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
            Repr::Json { value, .. } => write!(f, "Payload::Json({value})"),
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
}
