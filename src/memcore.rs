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

use std::collections::HashMap;

use crate::key::Key;
use crate::store::{CasToken, Command, Item, Reply, ServerError};

/// memcached's default item size limit (`-I 1m`).
pub const ITEM_SIZE_MAX_DEFAULT: usize = 1024 * 1024;

/// Bytes of per-item overhead memcached counts against `-I` for an item with
/// zero client flags and CAS enabled (measured: FACTS.md).
pub const ITEM_OVERHEAD_BYTES: usize = 59;

/// Server settings that change observable behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreConfig {
    /// `-I`: the largest item, header and key included.
    pub item_size_max: usize,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            item_size_max: ITEM_SIZE_MAX_DEFAULT,
        }
    }
}

impl CoreConfig {
    /// The longest value that fits under a key of `key_len_bytes`.
    pub fn value_len_max(&self, key_len_bytes: usize) -> usize {
        self.item_size_max.saturating_sub(ITEM_OVERHEAD_BYTES + key_len_bytes)
    }
}

#[derive(Debug, Clone)]
struct Entry {
    value: Vec<u8>,
    cas: u64,
}

/// One memcached server's item table and CAS counter.
#[derive(Debug, Clone)]
pub struct ServerCore {
    config: CoreConfig,
    items: HashMap<Key, Entry>,
    /// The last token handed out; the next store gets `cas_last + 1`.
    cas_last: u64,
}

impl ServerCore {
    /// A freshly started, empty server.
    pub fn new(config: CoreConfig) -> Self {
        ServerCore {
            config,
            items: HashMap::new(),
            cas_last: 0,
        }
    }

    /// The settings this server runs with.
    pub fn config(&self) -> CoreConfig {
        self.config
    }

    /// Applies one command and returns exactly what memcached would answer.
    pub fn apply(&mut self, command: &Command) -> Reply {
        match command {
            Command::Gets { key } => match self.items.get(key) {
                Some(entry) => Reply::Value(Item {
                    value: entry.value.clone(),
                    cas: CasToken(entry.cas),
                }),
                None => Reply::Miss,
            },
            Command::Set { key, value } => self.store(key, value, |_| Ok(())),
            Command::Add { key, value } => self.store(key, value, |existing| match existing {
                Some(_) => Err(Reply::NotStored),
                None => Ok(()),
            }),
            Command::Cas { key, value, token } => self.store(key, value, |existing| match existing {
                None => Err(Reply::NotFound),
                Some(entry) if entry.cas != token.0 => Err(Reply::Exists),
                Some(_) => Ok(()),
            }),
            Command::Delete { key } => match self.items.remove(key) {
                Some(_) => Reply::Deleted,
                None => Reply::NotFound,
            },
        }
    }

    /// The shared path of every store: size check first (a refusal deletes
    /// the old value, whatever the mode), then the mode's own condition.
    fn store(&mut self, key: &Key, value: &[u8], condition: impl FnOnce(Option<&Entry>) -> Result<(), Reply>) -> Reply {
        if value.len() > self.config.value_len_max(key.len()) {
            self.items.remove(key);
            return Reply::ServerError(ServerError::TooLarge);
        }
        if let Err(refusal) = condition(self.items.get(key)) {
            return refusal;
        }
        self.cas_last += 1;
        self.items.insert(
            key.clone(),
            Entry {
                value: value.to_vec(),
                cas: self.cas_last,
            },
        );
        Reply::Stored {
            cas: CasToken(self.cas_last),
        }
    }

    /// `flush_all`: every item becomes a miss; the counter moves on by one.
    pub fn flush_all(&mut self) {
        self.items.clear();
        self.cas_last += 1;
    }

    /// A process restart: every item is lost and the counter starts again,
    /// so pre-restart tokens can collide with new items.
    pub fn restart(&mut self) {
        self.items.clear();
        self.cas_last = 0;
    }

    /// Loses one item as an eviction would (on a real server: `touch <key> -1`
    /// or `delete`). Returns whether there was an item to lose.
    pub fn lose(&mut self, key: &Key) -> bool {
        self.items.remove(key).is_some()
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
mod tests {
    use super::*;

    fn key(s: &str) -> Key {
        Key::new(s).unwrap()
    }

    fn set(core: &mut ServerCore, k: &str, v: &[u8]) -> Reply {
        core.apply(&Command::Set {
            key: key(k),
            value: v.to_vec(),
        })
    }

    #[test]
    fn counter_starts_at_one_and_flush_moves_it() {
        let mut core = ServerCore::default();
        assert_eq!(set(&mut core, "a", b"x"), Reply::Stored { cas: CasToken(1) });
        core.flush_all();
        assert_eq!(set(&mut core, "d", b"x"), Reply::Stored { cas: CasToken(3) });
    }

    #[test]
    fn failed_writes_do_not_move_the_counter() {
        let mut core = ServerCore::default();
        set(&mut core, "a", b"x");
        let mismatch = Command::Cas {
            key: key("a"),
            value: b"y".to_vec(),
            token: CasToken(99),
        };
        assert_eq!(core.apply(&mismatch), Reply::Exists);
        let add = Command::Add {
            key: key("a"),
            value: b"z".to_vec(),
        };
        assert_eq!(core.apply(&add), Reply::NotStored);
        assert_eq!(set(&mut core, "b", b"x"), Reply::Stored { cas: CasToken(2) });
    }

    #[test]
    fn a_token_from_before_a_restart_can_succeed_after_it() {
        let mut core = ServerCore::default();
        set(&mut core, "anchor", b"old");
        let stale = CasToken(1);
        core.restart();
        set(&mut core, "anchor", b"new");
        let cas = Command::Cas {
            key: key("anchor"),
            value: b"stale write".to_vec(),
            token: stale,
        };
        assert_eq!(core.apply(&cas), Reply::Stored { cas: CasToken(2) });
    }

    #[test]
    fn too_large_refusal_deletes_the_old_value_even_behind_a_cas_guard() {
        let mut core = ServerCore::default();
        let max = CoreConfig::default().value_len_max(1);
        assert_eq!(max, 1_048_516);
        assert!(matches!(set(&mut core, "e", &vec![0; max]), Reply::Stored { .. }));
        let too_large = Command::Cas {
            key: key("e"),
            value: vec![0; max + 1],
            token: CasToken(12345),
        };
        assert_eq!(core.apply(&too_large), Reply::ServerError(ServerError::TooLarge));
        assert!(!core.contains(&key("e")));
    }
}
