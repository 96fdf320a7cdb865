//! The hash maps of the runtime's hot path.
//!
//! Keys are process ids and event ids, hashed on every event: std's SipHash costs more than
//! the rest of a lookup. foldhash is several times faster on short keys and randomly seeded
//! per map, which its authors call minimally DoS-resistant: an attacker who cannot observe
//! the process's timing cannot pick colliding ids in advance.

/// A `HashMap` with randomly seeded foldhash.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A `HashSet` with randomly seeded foldhash.
pub(crate) type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
