//! Process ids and the deterministic ids the runtime gives commands.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// The id that correlates events to one instance of a process manager.
///
/// It is a cheap-to-clone shared string: a saga keyed by an order id, a UUID or a number
/// all end up here in their string form (see [`ToProcessId`]).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessId(Arc<str>);

impl ProcessId {
    /// Creates a process id from anything string-like.
    pub fn new(id: impl AsRef<str>) -> Self {
        Self(Arc::from(id.as_ref()))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProcessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ProcessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for ProcessId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for ProcessId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for ProcessId {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl From<String> for ProcessId {
    fn from(id: String) -> Self {
        Self(Arc::from(id))
    }
}

impl From<&String> for ProcessId {
    fn from(id: &String) -> Self {
        Self::new(id)
    }
}

impl From<Uuid> for ProcessId {
    fn from(id: Uuid) -> Self {
        Self::from(id.to_string())
    }
}

impl Serialize for ProcessId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ProcessId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from)
    }
}

/// Types whose values can name a process instance: the type of a `correlate = field`.
///
/// Implemented for strings, [`Uuid`], the integer types and [`ProcessId`] itself. Implement it
/// for your own id newtypes to correlate on them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a process id",
    label = "this field's type does not implement `ToProcessId`",
    note = "correlate on a field of type `String`, `&str`, `Uuid`, an integer or `ProcessId`, or implement `pm_runtime::ToProcessId` for `{Self}`"
)]
pub trait ToProcessId {
    /// The process id this value names.
    fn to_process_id(&self) -> ProcessId;
}

impl ToProcessId for ProcessId {
    fn to_process_id(&self) -> ProcessId {
        self.clone()
    }
}

impl ToProcessId for str {
    fn to_process_id(&self) -> ProcessId {
        ProcessId::new(self)
    }
}

impl ToProcessId for String {
    fn to_process_id(&self) -> ProcessId {
        ProcessId::new(self)
    }
}

impl ToProcessId for Uuid {
    fn to_process_id(&self) -> ProcessId {
        ProcessId::from(*self)
    }
}

impl<T: ToProcessId + ?Sized> ToProcessId for &T {
    fn to_process_id(&self) -> ProcessId {
        (**self).to_process_id()
    }
}

macro_rules! integer_process_ids {
    ($($t:ty),*) => {$(
        impl ToProcessId for $t {
            fn to_process_id(&self) -> ProcessId {
                ProcessId::from(self.to_string())
            }
        }
    )*};
}
integer_process_ids!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize
);

/// Namespace of the UUIDv5 command ids. Changing it changes every command id ever issued,
/// which would defeat receivers' deduplication across an upgrade: never change it.
const COMMAND_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_3c2a_8b44_4e0f_9a57_2c1e_70b3_d5a1);
/// Namespace of idempotency keys; distinct from command ids so one never equals the other.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x0b9e_44d7_51c3_4f62_8e1d_a4f2_3c90_6b18);

/// Namespace of timer ids.
const TIMER_NAMESPACE: Uuid = Uuid::from_u128(0x3f0c_9e61_27a4_4b8d_b6e2_91d5_0c47_e3a9);

/// UUIDv5 of `namespace` and the name (PM name, process id, cause, index), equal to
/// `Uuid::new_v5(namespace, name)` over the length-prefixed concatenation (so ("ab", "c") and
/// ("a", "bc") stay apart), but hashed in place, without building the name.
fn derived_v5(namespace: &Uuid, pm: &str, process_id: &ProcessId, cause: Uuid, index: u32) -> Uuid {
    use sha1::{Digest, Sha1};
    let mut hasher = Sha1::new();
    hasher.update(namespace.as_bytes());
    hasher.update((pm.len() as u32).to_be_bytes());
    hasher.update(pm.as_bytes());
    hasher.update((process_id.as_str().len() as u32).to_be_bytes());
    hasher.update(process_id.as_str().as_bytes());
    hasher.update(cause.as_bytes());
    hasher.update(index.to_be_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// The deterministic id of timer number `index` scheduled while handling `cause`.
pub(crate) fn timer_id(pm: &str, process_id: &ProcessId, cause: Uuid, index: u32) -> Uuid {
    derived_v5(&TIMER_NAMESPACE, pm, process_id, cause, index)
}

/// The deterministic ids of one outgoing command.
///
/// Both are UUIDv5 over (PM name, process id, cause, index in the batch), where the cause is
/// the id of the event (or, for a compensation, of the failed command) that produced the
/// batch. Replaying the same cause therefore yields the same ids, so receivers can dedupe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandIds {
    /// The command's id.
    pub command_id: Uuid,
    /// The key receivers deduplicate on.
    pub idempotency_key: Uuid,
}

impl CommandIds {
    /// Derives the ids of command number `index` caused by `cause` in instance `process_id`
    /// of the process manager `pm`.
    pub fn derive(pm: &str, process_id: &ProcessId, cause: Uuid, index: u32) -> Self {
        Self {
            command_id: derived_v5(&COMMAND_ID_NAMESPACE, pm, process_id, cause, index),
            idempotency_key: derived_v5(&IDEMPOTENCY_NAMESPACE, pm, process_id, cause, index),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_ids_are_deterministic_and_distinct_per_input() {
        let pid = ProcessId::from("o-1");
        let cause = Uuid::from_u128(7);
        let a = CommandIds::derive("pm", &pid, cause, 0);
        assert_eq!(a, CommandIds::derive("pm", &pid, cause, 0));
        assert_ne!(a.command_id, a.idempotency_key);
        assert_ne!(a, CommandIds::derive("pm", &pid, cause, 1));
        assert_ne!(a, CommandIds::derive("pm2", &pid, cause, 0));
        assert_ne!(
            a,
            CommandIds::derive("pm", &ProcessId::from("o-2"), cause, 0)
        );
        assert_ne!(a, CommandIds::derive("pm", &pid, Uuid::from_u128(8), 0));
        assert_ne!(
            CommandIds::derive("ab", &ProcessId::from("c"), cause, 0),
            CommandIds::derive("a", &ProcessId::from("bc"), cause, 0)
        );
    }

    #[test]
    fn ids_are_standard_uuid_v5_of_the_length_prefixed_name() {
        let pid = ProcessId::from("o-1");
        let cause = Uuid::from_u128(7);
        let mut name = Vec::new();
        name.extend_from_slice(&2u32.to_be_bytes());
        name.extend_from_slice(b"pm");
        name.extend_from_slice(&3u32.to_be_bytes());
        name.extend_from_slice(b"o-1");
        name.extend_from_slice(cause.as_bytes());
        name.extend_from_slice(&4u32.to_be_bytes());
        let ids = CommandIds::derive("pm", &pid, cause, 4);
        assert_eq!(ids.command_id, Uuid::new_v5(&COMMAND_ID_NAMESPACE, &name));
        assert_eq!(
            ids.idempotency_key,
            Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, &name)
        );
        assert_eq!(ids.command_id.get_version_num(), 5);
    }

    #[test]
    fn process_ids_from_common_types() {
        assert_eq!(42u64.to_process_id().as_str(), "42");
        assert_eq!("x".to_process_id(), ProcessId::from("x"));
        assert_eq!(String::from("y").to_process_id(), ProcessId::from("y"));
    }
}
