//! memcached 1.6's observable item semantics, as a plain data structure.
//!
//! This is the one model of a memcached server that every non-real world
//! shares: the in-process [`MemoryStore`](crate::store::MemoryStore), the
//! simulator's servers, and the loom and shuttle stores. It therefore holds no
//! I/O, no clock and no synchronisation primitive; callers wrap it in whatever
//! their world needs.
//!
//! Behaviours reproduced (each checked against memcached 1.6.18 by the
//! differential test):
//! - one CAS counter per server, bumped by every successful store and by
//!   `flush_all`, never by a failed cas/add, a delete or a miss; the first
//!   item after start or restart gets token 1;
//! - a restart empties the table and starts the counter again, so a token
//!   from before the restart can match an item written after it;
//! - the item size limit: a value fits when `59 + key length + value length`
//!   is at most `item_size_max` (`-I`, default 1 MiB);
//! - a store refused as too large deletes whatever the key held, in every
//!   meta `ms` mode (plain, add, CAS-guarded): our real backend speaks meta.
//!
//! Memory is modelled as a byte budget (`59 + key + value` per item) with
//! least-recently-used eviction, where a hit refreshes recency, or with
//! `-M` refusals (`SERVER_ERROR out of memory`, which also unlinks the old
//! item, as a failed meta store does). memcached's per-slab-class segmented
//! LRU is deliberately not reproduced: *when* a real server evicts depends on
//! slab page assignment; *that* an unread item goes first is what the deque
//! can observe, and that is kept.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::key::Key;
use crate::store::{CasToken, Command, Item, Reply, ServerError};

/// memcached's default item size limit (`-I 1m`).
pub const ITEM_SIZE_MAX_DEFAULT: usize = 1024 * 1024;

/// Bytes of per-item overhead memcached counts against `-I` for an item with
/// zero client flags and CAS enabled (measured: docs/memcached.md).
pub const ITEM_OVERHEAD_BYTES: usize = 59;

/// The CAS token's share of [`ITEM_OVERHEAD_BYTES`]: an item on a server
/// started with `-C` has no token, so 8 more value bytes fit (measured:
/// docs/memcached.md; the differential fidelity test found it).
pub const CAS_TOKEN_BYTES: usize = 8;

/// Why the server dropped an item on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossReason {
    /// Evicted to make room under the memory limit.
    Evicted,
    /// A store was refused (too large, or out of memory under `-M`), and
    /// memcached unlinked the value the key held.
    RefusedStore,
}

/// An item the server dropped on its own, with the bytes it held: a harness
/// that records the loss can then say which of its values went with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostItem {
    /// The key that held it.
    pub key: Key,
    /// Why it went.
    pub reason: LossReason,
    /// The value it held.
    pub value: Vec<u8>,
}

impl LostItem {
    fn new(key: Key, reason: LossReason, value: Vec<u8>) -> Self {
        LostItem { key, reason, value }
    }
}

/// Server settings that change observable behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreConfig {
    /// `-I`: the largest item, header and key included.
    pub item_size_max: usize,
    /// `-m`, as bytes of items; `None` for unlimited.
    pub memory_limit_bytes: Option<usize>,
    /// `false` is `-M`: refuse stores when full instead of evicting.
    pub evictions: bool,
    /// `false` is `-C`: CAS disabled. Every token is 0, and every
    /// compare-and-set finds a mismatch (memcached 1.6.18 answers `EX`).
    pub cas: bool,
    /// Whether a restart keeps the process identity `stats` reports
    /// (process id and start second): memcached as process 1 of a container
    /// restarted within one second. The life mark still tells the lives
    /// apart (see `Command::Lifetime`).
    pub restart_keeps_identity: bool,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            item_size_max: ITEM_SIZE_MAX_DEFAULT,
            memory_limit_bytes: None,
            evictions: true,
            cas: true,
            restart_keeps_identity: false,
        }
    }
}

impl CoreConfig {
    /// The longest value that fits under a key of `key_len_bytes`.
    pub fn value_len_max(&self, key_len_bytes: usize) -> usize {
        self.item_size_max
            .saturating_sub(self.item_overhead_bytes() + key_len_bytes)
    }

    /// Bytes each item costs beyond its key and value.
    pub fn item_overhead_bytes(&self) -> usize {
        if self.cas {
            ITEM_OVERHEAD_BYTES
        } else {
            ITEM_OVERHEAD_BYTES - CAS_TOKEN_BYTES
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    value: Vec<u8>,
    cas: u64,
    /// Position in `recency`: the logical time of the last store or hit.
    touched: u64,
}

impl Entry {
    fn size_bytes(&self, key: &Key, overhead_bytes: usize) -> usize {
        overhead_bytes + key.len() + self.value.len()
    }
}

/// One memcached server's item table and CAS counter.
///
/// `items` is a hash map for speed (FxHash: keys are not attacker-chosen
/// here), but nothing ever iterates it in an order that could leak into a
/// run: eviction order comes from `recency`, a `BTreeMap`, and listings are
/// sorted. Recency is only tracked when there is a memory limit to enforce.
#[derive(Debug, Clone)]
pub struct ServerCore {
    config: CoreConfig,
    items: FxHashMap<Key, Entry>,
    /// Least recently used first: logical touch time to key.
    recency: BTreeMap<u64, Key>,
    touch_clock: u64,
    bytes_used: usize,
    evictions: u64,
    /// Items lost since the last `take_lost`, oldest first.
    lost: Vec<LostItem>,
    /// The last token handed out; the next store gets `cas_last + 1`.
    cas_last: u64,
    /// The process identity `stats` would report (process id and start
    /// time): changed by a restart unless the configuration keeps it.
    identity: u64,
}

impl ServerCore {
    /// A freshly started, empty server.
    pub fn new(config: CoreConfig) -> Self {
        ServerCore {
            config,
            items: FxHashMap::default(),
            recency: BTreeMap::new(),
            touch_clock: 0,
            bytes_used: 0,
            evictions: 0,
            lost: Vec::new(),
            cas_last: 0,
            identity: 0,
        }
    }

    /// The settings this server runs with.
    pub fn config(&self) -> CoreConfig {
        self.config
    }

    /// Applies one command and returns exactly what memcached would answer.
    pub fn apply(&mut self, command: &Command) -> Reply {
        match command {
            Command::Gets { key } | Command::Version { key } => {
                self.touch_clock += 1;
                let tracked = self.tracks_recency();
                match self.items.get_mut(key) {
                    Some(entry) => {
                        if tracked {
                            self.recency.remove(&entry.touched);
                            entry.touched = self.touch_clock;
                            self.recency.insert(entry.touched, key.clone());
                        }
                        let value = match command {
                            Command::Version { .. } => Vec::new(),
                            _ => entry.value.clone(),
                        };
                        Reply::Value(Item {
                            value,
                            cas: CasToken(entry.cas),
                        })
                    }
                    None => Reply::Miss,
                }
            }
            Command::Set { key, value } => self.store(key, value, |_| Ok(())),
            Command::Add { key, value } => self.store(key, value, |existing| match existing {
                Some(_) => Err(Reply::NotStored),
                None => Ok(()),
            }),
            Command::Cas { key, value, token } => {
                let cas = self.config.cas;
                self.store(key, value, |existing| match existing {
                    None => Err(Reply::NotFound),
                    // With CAS disabled every compare fails.
                    Some(entry) if !cas || entry.cas != token.0 => Err(Reply::Exists),
                    Some(_) => Ok(()),
                })
            }
            Command::Delete { key } => match self.unlink(key) {
                Some(_) => Reply::Deleted,
                None => Reply::NotFound,
            },
            Command::DeleteCas { key, token } => match self.items.get(key) {
                None => Reply::NotFound,
                // With CAS disabled an item's token reads 0, and `md C0`
                // deletes it (measured on 1.6.18 with -C; `sim/tests/fidelity.rs`).
                Some(entry) if (if self.config.cas { entry.cas } else { 0 }) != token.0 => Reply::Exists,
                Some(_) => {
                    self.unlink(key);
                    Reply::Deleted
                }
            },
            Command::Lifetime { mark, .. } => self.lifetime(*mark),
        }
    }

    /// The shared path of every store: size check first (a refusal deletes
    /// the old value, whatever the mode), then the mode's own condition.
    fn store(&mut self, key: &Key, value: &[u8], condition: impl FnOnce(Option<&Entry>) -> Result<(), Reply>) -> Reply {
        if value.len() > self.config.value_len_max(key.len()) {
            self.unlink_refused(key);
            return Reply::ServerError(ServerError::TooLarge);
        }
        if let Err(refusal) = condition(self.items.get(key)) {
            return refusal;
        }
        let size_bytes = self.config.item_overhead_bytes() + key.len() + value.len();
        let replaced = self.unlink(key);
        if !self.make_room(size_bytes) {
            if let Some(value) = replaced {
                self.lost
                    .push(LostItem::new(key.clone(), LossReason::RefusedStore, value));
            }
            return Reply::ServerError(ServerError::OutOfMemory);
        }
        self.cas_last += 1;
        self.touch_clock += 1;
        self.bytes_used += size_bytes;
        if self.tracks_recency() {
            self.recency.insert(self.touch_clock, key.clone());
        }
        // With CAS disabled (`-C`) every item's token is 0.
        let cas = if self.config.cas { self.cas_last } else { 0 };
        self.items.insert(
            key.clone(),
            Entry {
                value: value.to_vec(),
                cas,
                touched: self.touch_clock,
            },
        );
        Reply::Stored { cas: CasToken(cas) }
    }

    /// Eviction order only matters when memory is bounded; without a limit
    /// the bookkeeping is skipped (it is the table's main cost).
    fn tracks_recency(&self) -> bool {
        self.config.memory_limit_bytes.is_some()
    }

    /// Frees memory for an item of `size_bytes`, evicting least recently used
    /// items if allowed. False when the item cannot fit (`-M`, or larger than
    /// the whole budget).
    fn make_room(&mut self, size_bytes: usize) -> bool {
        let Some(limit) = self.config.memory_limit_bytes else {
            return true;
        };
        if size_bytes > limit {
            return false;
        }
        while self.bytes_used + size_bytes > limit {
            if !self.config.evictions {
                return false;
            }
            let (_, victim) = self
                .recency
                .pop_first()
                .expect("bytes are in use, so some item holds them");
            let entry = self.items.remove(&victim).expect("recency lists only live items");
            self.bytes_used -= entry.size_bytes(&victim, self.config.item_overhead_bytes());
            self.evictions += 1;
            self.lost.push(LostItem::new(victim, LossReason::Evicted, entry.value));
        }
        true
    }

    /// A refused store unlinks what the key held (memcached's behaviour);
    /// that is a loss the harness must know about.
    fn unlink_refused(&mut self, key: &Key) {
        if let Some(value) = self.unlink(key) {
            self.lost
                .push(LostItem::new(key.clone(), LossReason::RefusedStore, value));
        }
    }

    /// Removes `key` and its accounting; the value it held, if present.
    fn unlink(&mut self, key: &Key) -> Option<Vec<u8>> {
        let entry = self.items.remove(key)?;
        if self.tracks_recency() {
            self.recency.remove(&entry.touched);
        }
        self.bytes_used -= entry.size_bytes(key, self.config.item_overhead_bytes());
        Some(entry.value)
    }

    /// `flush_all`: every item becomes a miss; the counter moves on by one.
    pub fn flush_all(&mut self) {
        self.clear();
        self.cas_last += 1;
    }

    fn clear(&mut self) {
        self.items.clear();
        self.recency.clear();
        self.bytes_used = 0;
    }

    /// A process restart: every item is lost and the counter starts again,
    /// so pre-restart tokens can collide with new items.
    pub fn restart(&mut self) {
        self.clear();
        self.cas_last = 0;
        if !self.config.restart_keeps_identity {
            self.identity += 1;
        }
    }

    /// The server's life: its identity and its life mark, written from
    /// `mark` if it has none (an `add`, as the real backend does it).
    fn lifetime(&mut self, mark: u64) -> Reply {
        let key = Key::new(crate::store::LIFE_MARK_KEY).expect("the life mark's key is valid");
        let stored = match self.apply(&Command::Gets { key: key.clone() }) {
            Reply::Value(item) => item.value,
            _ => match self.apply(&Command::Add {
                key: key.clone(),
                value: mark.to_le_bytes().to_vec(),
            }) {
                Reply::Stored { .. } => mark.to_le_bytes().to_vec(),
                Reply::ServerError(error) => return Reply::ServerError(error),
                // Unreachable on one thread; re-read like a racing client.
                _ => match self.apply(&Command::Gets { key }) {
                    Reply::Value(item) => item.value,
                    _ => mark.to_le_bytes().to_vec(),
                },
            },
        };
        Reply::Lifetime(crate::store::Life::new(self.identity, &stored))
    }

    /// Loses one item as an eviction would (on a real server: `touch <key> -1`
    /// or `delete`). Returns the value it held, if there was an item to lose,
    /// so a harness can record what the loss destroyed.
    pub fn lose(&mut self, key: &Key) -> Option<Vec<u8>> {
        self.unlink(key)
    }

    /// The stored value under `key`, without touching recency: an oracle
    /// view for harnesses (which node is at position 3?), not a client read.
    pub fn peek(&self, key: &Key) -> Option<&[u8]> {
        self.items.get(key).map(|entry| entry.value.as_slice())
    }

    /// Every key, sorted, so that choices made from the list are
    /// deterministic.
    pub fn keys_sorted(&self) -> Vec<Key> {
        let mut keys: Vec<Key> = self.items.keys().cloned().collect();
        keys.sort_unstable();
        keys
    }

    /// Bytes of items stored, as the budget counts them.
    pub fn bytes_used(&self) -> usize {
        self.bytes_used
    }

    /// Items evicted to make room since start.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// The items the server dropped on its own since the last call
    /// (evictions, and old values unlinked by a refused store), so a harness
    /// can record each loss with its time and cause.
    pub fn take_lost(&mut self) -> Vec<LostItem> {
        std::mem::take(&mut self.lost)
    }

    /// Whether `key` currently holds an item.
    pub fn contains(&self, key: &Key) -> bool {
        self.items.contains_key(key)
    }

    /// How many items the server holds.
    pub fn item_count(&self) -> usize {
        self.items.len()
    }
}

impl Default for ServerCore {
    fn default() -> Self {
        ServerCore::new(CoreConfig::default())
    }
}

#[cfg(test)]
mod tests;
