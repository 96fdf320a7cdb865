//! Process ids and the deterministic ids the runtime gives commands.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha1::digest::generic_array::GenericArray;
use uuid::Uuid;

/// The id that correlates events to one instance of a process manager.
///
/// A cheap-to-clone string: a saga keyed by an order id, a UUID or a number all end up here
/// in their string form (see [`ToProcessId`]). Ids of up to 23 bytes are held inline, so
/// making or cloning one allocates nothing and shares no reference count between cores
/// (every event makes one, and the runtime clones it several times); longer ones (a UUID's
/// 36 characters) are shared behind a reference count.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessId(smol_str::SmolStr);

impl ProcessId {
    /// Creates a process id from anything string-like.
    pub fn new(id: impl AsRef<str>) -> Self {
        Self(smol_str::SmolStr::new(id.as_ref()))
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
        Self(smol_str::SmolStr::from(id))
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
/// XORed into a command id to make its idempotency key (see [`CommandIds`]); like the
/// namespaces, never change it.
const IDEMPOTENCY_MASK: u128 = 0x0b9e_44d7_51c3_4f62_8e1d_a4f2_3c90_6b18;

/// Namespace of timer ids.
const TIMER_NAMESPACE: Uuid = Uuid::from_u128(0x3f0c_9e61_27a4_4b8d_b6e2_91d5_0c47_e3a9);

/// SHA-1 works on 64-byte blocks.
const BLOCK: usize = 64;

/// SHA-1's initial state (FIPS 180-4, 5.3.1).
const SHA1_INIT: [u32; 5] = [
    0x6745_2301,
    0xefcd_ab89,
    0x98ba_dcfe,
    0x1032_5476,
    0xc3d2_e1f0,
];

/// The UUIDv5 ids of one instance (one PM, one process id), with the instance's part of the
/// name hashed once.
///
/// The name of an id is `len(pm) ‖ pm ‖ len(process id) ‖ process id`, zero-padded so that
/// with the 16-byte namespace before it it fills whole SHA-1 blocks, then `cause ‖ index`
/// (lengths and the index are big-endian `u32`). The padding is what makes the cache pay:
/// the hasher state after the instance's part holds no partial block, so each id costs one
/// more block (cause, index and SHA-1's own padding fit in one) instead of the whole name.
///
/// The last block is laid out here rather than through a general hasher: `cause ‖ index`,
/// SHA-1's `0x80` end marker and the message length in bits, compressed once onto the cached
/// state. That skips copying a hasher and its buffer for every id.
#[derive(Clone)]
pub struct InstanceIds {
    commands: Prefix,
}

/// SHA-1's state after a whole number of blocks, and the bytes those blocks held.
#[derive(Clone, Copy)]
struct Prefix {
    state: [u32; 5],
    len: u64,
}

impl std::fmt::Debug for InstanceIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstanceIds")
    }
}

/// SHA-1 over `namespace` and the instance's padded part of the name.
fn instance_prefix(namespace: &Uuid, pm: &str, process_id: &ProcessId) -> Prefix {
    let process_id = process_id.as_str();
    let mut name = Vec::with_capacity(16 + 4 + pm.len() + 4 + process_id.len() + BLOCK);
    name.extend_from_slice(namespace.as_bytes());
    name.extend_from_slice(&(pm.len() as u32).to_be_bytes());
    name.extend_from_slice(pm.as_bytes());
    name.extend_from_slice(&(process_id.len() as u32).to_be_bytes());
    name.extend_from_slice(process_id.as_bytes());
    name.resize(name.len().next_multiple_of(BLOCK), 0);
    let mut state = SHA1_INIT;
    for block in name.chunks_exact(BLOCK) {
        sha1::compress(&mut state, &[GenericArray::clone_from_slice(block)]);
    }
    Prefix {
        state,
        len: name.len() as u64,
    }
}

/// Finishes an id from a prefix: `cause ‖ index` and SHA-1's padding in one last block,
/// then the UUIDv5 layout.
fn finish(prefix: &Prefix, cause: Uuid, index: u32) -> Uuid {
    const TAIL: usize = 16 + 4;
    let mut block = [0u8; BLOCK];
    block[..16].copy_from_slice(cause.as_bytes());
    block[16..TAIL].copy_from_slice(&index.to_be_bytes());
    block[TAIL] = 0x80;
    let bits = (prefix.len + TAIL as u64) * 8;
    block[BLOCK - 8..].copy_from_slice(&bits.to_be_bytes());
    let mut state = prefix.state;
    sha1::compress(&mut state, &[GenericArray::from(block)]);
    let mut bytes = [0u8; 16];
    for (out, word) in bytes.chunks_exact_mut(4).zip(state) {
        out.copy_from_slice(&word.to_be_bytes());
    }
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

impl InstanceIds {
    /// Hashes the instance's part of the name of every command id it will derive.
    pub fn new(pm: &str, process_id: &ProcessId) -> Self {
        Self {
            commands: instance_prefix(&COMMAND_ID_NAMESPACE, pm, process_id),
        }
    }

    /// The ids of command number `index` caused by `cause`; equal to
    /// [`CommandIds::derive`] with the same arguments.
    pub fn command(&self, cause: Uuid, index: u32) -> CommandIds {
        CommandIds::from_command_id(finish(&self.commands, cause, index))
    }
}

/// The deterministic id of timer number `index` scheduled while handling `cause`. Timers are
/// rare next to commands, so their prefix is not cached.
pub(crate) fn timer_id(pm: &str, process_id: &ProcessId, cause: Uuid, index: u32) -> Uuid {
    finish(
        &instance_prefix(&TIMER_NAMESPACE, pm, process_id),
        cause,
        index,
    )
}

/// The deterministic ids of one outgoing command.
///
/// `command_id` is a UUIDv5 over (PM name, process id, cause, index in the batch), where the
/// cause is the id of the event (or, for a compensation, of the failed command) that produced
/// the batch; see [`InstanceIds`] for the exact name. Replaying the same cause therefore
/// yields the same ids, so receivers can dedupe.
///
/// `idempotency_key` is the command id XORed with a fixed 128-bit mask, its version nibble
/// set to 8 and its variant to RFC 9562's (a UUIDv8, the version for custom layouts). It is
/// exactly as stable and as unique as the command id, never equal to it, and costs no second
/// SHA-1: hashing dominates the cost of a command's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandIds {
    /// The command's id.
    pub command_id: Uuid,
    /// The key receivers deduplicate on.
    pub idempotency_key: Uuid,
}

impl CommandIds {
    /// Derives the ids of command number `index` caused by `cause` in instance `process_id`
    /// of the process manager `pm`. The runtime caches the instance's part of the hash
    /// ([`InstanceIds`]); this is the same computation from scratch.
    pub fn derive(pm: &str, process_id: &ProcessId, cause: Uuid, index: u32) -> Self {
        InstanceIds::new(pm, process_id).command(cause, index)
    }

    fn from_command_id(command_id: Uuid) -> Self {
        let masked = (command_id.as_u128() ^ IDEMPOTENCY_MASK).to_be_bytes();
        let idempotency_key = uuid::Builder::from_custom_bytes(masked).into_uuid();
        Self {
            command_id,
            idempotency_key,
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

    /// The name as the docs of [`InstanceIds`] spell it, built by hand.
    fn padded_name(pm: &str, process_id: &str, cause: Uuid, index: u32) -> Vec<u8> {
        let mut name = Vec::new();
        name.extend_from_slice(&(pm.len() as u32).to_be_bytes());
        name.extend_from_slice(pm.as_bytes());
        name.extend_from_slice(&(process_id.len() as u32).to_be_bytes());
        name.extend_from_slice(process_id.as_bytes());
        while (16 + name.len()) % 64 != 0 {
            name.push(0);
        }
        name.extend_from_slice(cause.as_bytes());
        name.extend_from_slice(&index.to_be_bytes());
        name
    }

    #[test]
    fn command_ids_are_standard_uuid_v5_of_the_padded_name() {
        let cause = Uuid::from_u128(7);
        // Short, exactly one block with the namespace (16 + 4 + 2 + 4 + 38 = 64), and long.
        for process_id in ["o-1", &"x".repeat(38), &"y".repeat(150)] {
            let ids = CommandIds::derive("pm", &ProcessId::from(process_id), cause, 4);
            let name = padded_name("pm", process_id, cause, 4);
            assert_eq!(ids.command_id, Uuid::new_v5(&COMMAND_ID_NAMESPACE, &name));
            assert_eq!(ids.command_id.get_version_num(), 5);
        }
    }

    #[test]
    fn the_idempotency_key_is_the_masked_command_id_as_a_uuid_v8() {
        let ids = CommandIds::derive("pm", &ProcessId::from("o-1"), Uuid::from_u128(7), 0);
        assert_eq!(ids.idempotency_key.get_version_num(), 8);
        assert_eq!(ids.idempotency_key.get_variant(), uuid::Variant::RFC4122);
        let mut expected = (ids.command_id.as_u128() ^ IDEMPOTENCY_MASK).to_be_bytes();
        expected[6] = (expected[6] & 0x0f) | 0x80;
        expected[8] = (expected[8] & 0x3f) | 0x80;
        assert_eq!(ids.idempotency_key.as_bytes(), &expected);
    }

    #[test]
    fn cached_instance_ids_equal_ids_derived_from_scratch() {
        let pid = ProcessId::from("order-000123");
        let ids = InstanceIds::new("order_fulfillment", &pid);
        for index in 0..3 {
            let cause = Uuid::from_u128(u128::from(index) + 99);
            assert_eq!(
                ids.command(cause, index),
                CommandIds::derive("order_fulfillment", &pid, cause, index)
            );
        }
    }

    #[test]
    fn timer_ids_are_uuid_v5_in_their_own_namespace() {
        let pid = ProcessId::from("o-1");
        let cause = Uuid::from_u128(7);
        let id = timer_id("pm", &pid, cause, 0);
        let name = padded_name("pm", "o-1", cause, 0);
        assert_eq!(id, Uuid::new_v5(&TIMER_NAMESPACE, &name));
        assert_ne!(id, CommandIds::derive("pm", &pid, cause, 0).command_id);
    }

    #[test]
    fn process_ids_from_common_types() {
        assert_eq!(42u64.to_process_id().as_str(), "42");
        assert_eq!("x".to_process_id(), ProcessId::from("x"));
        assert_eq!(String::from("y").to_process_id(), ProcessId::from("y"));
    }
}
