//! Multi-entry compare-and-set (MCAS) on memcached: replace the values of
//! several keys, on any servers, all or none, given the CAS token each was
//! read with. The 2013 project's later building block, for structures that
//! a single-key CAS makes "overwhelmingly complicated"; docs/mcas.md
//! describes the algorithm and why each step is safe.
//!
//! Based on Keir Fraser's MCAS ("Practical lock-freedom", 2004, chapter 4):
//! a descriptor item records every key's expected token, old and new value
//! and a status; the registers are claimed in key order by pointing them at
//! the descriptor (a `cas` on the expected token); the status is decided
//! once by a `cas` on the descriptor; every register is then released to
//! its new value (succeeded) or its old one (failed). Whoever meets a claim
//! finishes that MCAS instead of waiting for it (helping), so a stalled or
//! crashed client never blocks the others.
//!
//! What memcached changes (docs/mcas.md has the arguments):
//! - A CAS token never returns within one server life, so a claim can only
//!   land while its descriptor is undecided: Fraser's conditional CAS comes
//!   for free, and a register claimed by another MCAS can never again hold
//!   the token this one expects (the nested case fails at once, no helping
//!   needed to decide it).
//! - Tokens restart at 1 with the server, so every value carries the life
//!   of its server (as the deque's anchor does); a value from another life
//!   is reported, and an MCAS checks the lives of its servers after its
//!   last claim before it may succeed.
//! - Items vanish (eviction, restarts): a missing register, or a claim
//!   whose descriptor is gone, is corruption, never a guess.
//!
//! Cost, uncontended, `n` entries: `n + 4` round trips (add the descriptor,
//! `n` claims with the life checks riding on the last, decide, release all
//! in one pipeline, delete the descriptor).

mod error;
pub mod format;
mod help;
mod variant;

use std::collections::BTreeMap;

use rand_chacha::ChaCha12Rng;
use rand_core::Rng;

pub use error::{McasCorruptionKind, McasError, McasOp};
use format::{DescriptorEntry, Register};
pub use variant::McasVariant;

use crate::format::NodeId;
use crate::key::Key;
use crate::memcore::{CoreConfig, ITEM_SIZE_MAX_DEFAULT};
use crate::store::{self, AddOutcome, CasOutcome, CasToken, Command, Store, StoreError};

/// Settings of an [`McasClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McasOptions {
    /// The servers' `-I` item size limit, bytes: values and descriptors are
    /// refused before anything is sent when they could not be stored.
    pub item_size_max: usize,
    /// Rounds a [`McasClient::get`] makes (each helping the MCAS that
    /// claimed the register) before [`McasError::RetriesExhausted`].
    pub retries_max: u32,
    /// Seed for descriptor ids and life marks; `None` draws one from the
    /// operating system. A seed is for the simulator, which derives one per
    /// client so runs replay; two clients must not share one.
    pub id_seed: Option<u64>,
    /// The algorithm: the library's, or a broken copy for the harness to
    /// catch ([`McasVariant`]).
    pub variant: McasVariant,
}

impl Default for McasOptions {
    fn default() -> Self {
        McasOptions {
            item_size_max: ITEM_SIZE_MAX_DEFAULT,
            retries_max: 64,
            id_seed: None,
            variant: McasVariant::default(),
        }
    }
}

/// A register as read: its key, its value, and the token an MCAS needs to
/// replace exactly this version. Only [`McasClient::get`] makes one, so
/// the value it carries was never a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    key: Key,
    value: Vec<u8>,
    token: CasToken,
    life: u64,
}

impl Entry {
    /// The register's key.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The value read.
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// The CAS token of the version read: an MCAS with this entry succeeds
    /// only if the register still holds exactly this version.
    pub fn token(&self) -> CasToken {
        self.token
    }
}

/// One client's handle for MCAS on a store.
///
/// Keeps what it learnt about the servers' lives (one `stats` exchange per
/// server, asked again whenever a value's stamp disagrees) and the random
/// stream for descriptor ids. Methods are `async` so the simulator can run
/// many clients in one thread; drive them with
/// [`block_on`](crate::store::block_on) on a blocking store.
#[derive(Debug)]
pub struct McasClient<S> {
    store: S,
    rng: ChaCha12Rng,
    /// Life stamp of each server (by [`Store::server_name`]) as last asked.
    lives: BTreeMap<String, u64>,
    item_size_max: usize,
    retries_max: u32,
    variant: McasVariant,
}

impl<S: Store> McasClient<S> {
    /// A client on `store`. Sends nothing.
    pub fn new(store: S, options: McasOptions) -> Self {
        McasClient {
            store,
            rng: crate::deque::id_rng(options.id_seed),
            lives: BTreeMap::new(),
            item_size_max: options.item_size_max,
            retries_max: options.retries_max,
            variant: options.variant,
        }
    }

    /// The store this client talks to.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The largest value a register under `key` holds, bytes.
    pub fn value_len_max(&self, key: &Key) -> usize {
        self.config()
            .value_len_max(key.len())
            .saturating_sub(format::VALUE_OVERHEAD_BYTES)
    }

    /// Creates the register `key` holding `value`, stamped with its
    /// server's running life (asked: one `stats` exchange, then one `add`).
    /// `Ok(false)` if the key exists already (nothing changed).
    ///
    /// # Errors
    /// [`McasError::InvalidEntries`] for a key in the descriptors' space,
    /// [`McasError::TooLarge`] for a value over
    /// [`value_len_max`](Self::value_len_max), [`McasError::Backend`] or
    /// [`McasError::OutcomeUnknown`] when the store fails.
    pub async fn insert(&mut self, key: &Key, value: Vec<u8>) -> Result<bool, McasError> {
        let op = McasOp::Insert;
        check_register_key(op, key)?;
        let len_max_bytes = self.value_len_max(key);
        if value.len() > len_max_bytes {
            return Err(McasError::TooLarge {
                op,
                len_bytes: value.len(),
                len_max_bytes,
            });
        }
        let life = self.ask_life(op, key).await?;
        let bytes = format::encode_register(&Register::Value {
            life,
            value: value.clone(),
        });
        // The life is asked again in the same pipeline: a restart between
        // the first answer and the `add` would otherwise leave a value
        // stamped with the old life in the new one (a false alarm for
        // every reader, for ever).
        let add = Command::Add {
            key: key.clone(),
            value: bytes,
        };
        let check = Command::Lifetime {
            key: key.clone(),
            mark: self.rng.next_u64(),
        };
        let batch = vec![add.clone(), check.clone()];
        let mut replies = store::replies_for(&batch, self.store.call_batch(batch.clone()).await).into_iter();
        let added = store::add_outcome(&add, replies.next().expect("replies_for answers every command"));
        let token = match added {
            Ok(AddOutcome::Stored(CasToken(0))) => {
                // Useless on this server: take it back (best effort).
                let _ = self.store.delete(key).await;
                return Err(self.cas_disabled(op, key));
            }
            Ok(AddOutcome::Stored(token)) => token,
            Ok(AddOutcome::NotStored) => return Ok(false),
            Err(source) => return Err(failed(op, source)),
        };
        let checked = store::lifetime_outcome(&check, replies.next().expect("replies_for answers every command"));
        let Ok(running) = checked.map(|life| life.stamp()) else {
            // Stored; the stamp is the life asked a moment ago.
            return Ok(true);
        };
        self.lives.insert(self.store.server_name(key), running);
        if running == life {
            return Ok(true);
        }
        let restamped = format::encode_register(&Register::Value { life: running, value });
        match self.store.cas(key, restamped, token).await {
            Ok(CasOutcome::Stored(_)) => Ok(true),
            Ok(CasOutcome::Exists | CasOutcome::NotFound) => Err(corruption(
                op,
                key,
                McasCorruptionKind::ForeignLifetime { running, found: life },
            )),
            Err(source) => Err(failed(op, source)),
        }
    }

    /// Reads the register `key`, finishing any MCAS that holds it claimed
    /// first, so the entry is a value every MCAS has settled. `Ok(None)`
    /// when the key holds nothing (never inserted, or lost: the caller
    /// knows which it expects).
    ///
    /// # Errors
    /// [`McasError::Corruption`] for garbage, a value from another server
    /// life, or a claim whose descriptor is gone; [`McasError::Backend`] when
    /// the store fails (a `get` has no effect of its own, though the MCAS it
    /// was helping may have advanced); [`McasError::RetriesExhausted`] when
    /// new claims kept arriving.
    pub async fn get(&mut self, key: &Key) -> Result<Option<Entry>, McasError> {
        let op = McasOp::Get;
        check_register_key(op, key)?;
        for _ in 0..self.retries_max {
            let Some(item) = self.store.gets(key).await.map_err(|source| no_effect(op, source))? else {
                return Ok(None);
            };
            if item.cas == CasToken(0) {
                return Err(self.cas_disabled(op, key));
            }
            match format::decode_register(&item.value).map_err(|e| malformed(op, key, e))? {
                Register::Value { life, value } => {
                    self.check_life(op, key, life).await?;
                    return Ok(Some(Entry {
                        key: key.clone(),
                        value,
                        token: item.cas,
                        life,
                    }));
                }
                Register::Claim(id) if self.variant == McasVariant::ReadOldValueOfClaim => {
                    if let Some(entry) = self.old_value_of_claim(key, id, item.cas).await {
                        return Ok(Some(entry));
                    }
                    self.resolve_claim(op, key, id, item.cas).await?;
                }
                Register::Claim(id) => self.resolve_claim(op, key, id, item.cas).await?,
            }
        }
        Err(McasError::RetriesExhausted {
            op,
            attempts: self.retries_max,
        })
    }

    /// Replaces every entry's register with its new value if and only if
    /// every register still holds the version its entry was read at.
    /// `Ok(true)`: all replaced, atomically (linearizable with every other
    /// MCAS and `get`); `Ok(false)`: none replaced, because some register
    /// had changed since it was read or a concurrent MCAS had claimed it (a
    /// failed MCAS leaves the registers it claimed with their old values
    /// under new tokens: read again and retry; docs/mcas.md). An empty list
    /// succeeds at once.
    ///
    /// # Errors
    /// [`McasError::InvalidEntries`] (a key twice) and
    /// [`McasError::TooLarge`] (the descriptor holding every old and new
    /// value exceeds one item) before anything is sent;
    /// [`McasError::Backend`] when nothing took effect;
    /// [`McasError::OutcomeUnknown`] when the MCAS was under way and may
    /// still be finished by others; [`McasError::Corruption`] when a
    /// register or the descriptor was lost, or a register turned out to
    /// belong to another server life (the registers then hold what the
    /// descriptor decided: failed, when this client decided, and what it
    /// restored carries the old life, so readers that know the running
    /// life report it too).
    pub async fn mcas(&mut self, updates: Vec<(Entry, Vec<u8>)>) -> Result<bool, McasError> {
        let op = McasOp::Mcas;
        if updates.is_empty() {
            return Ok(true);
        }
        let mut entries: Vec<DescriptorEntry> = updates
            .into_iter()
            .map(|(entry, new)| DescriptorEntry {
                key: entry.key,
                token: entry.token,
                life: entry.life,
                old: entry.value,
                new,
            })
            .collect();
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        self.check_entries(&entries)?;
        let (id, token) = self.add_descriptor(&entries).await?;
        let descriptor = format::Descriptor {
            status: format::Status::Undecided,
            entries,
        };
        let status = self.help(op, id, descriptor, token, help::Role::Originator).await?;
        Ok(status == Some(format::Status::Succeeded))
    }

    /// [`McasVariant::ReadOldValueOfClaim`]'s slip: the claimed register's
    /// old value from the descriptor, whatever its status (`None` when the
    /// descriptor cannot be read).
    async fn old_value_of_claim(&mut self, key: &Key, id: NodeId, token: CasToken) -> Option<Entry> {
        let item = self.store.gets(&format::descriptor_key(id)).await.ok()??;
        let descriptor = format::decode_descriptor(&item.value).ok()?;
        let entry = descriptor.entries.into_iter().find(|entry| entry.key == *key)?;
        Some(Entry {
            key: key.clone(),
            value: entry.old,
            token,
            life: entry.life,
        })
    }

    fn check_entries(&self, entries: &[DescriptorEntry]) -> Result<(), McasError> {
        let op = McasOp::Mcas;
        let invalid = |reason: String| McasError::InvalidEntries { op, reason };
        if entries.len() > format::ENTRIES_MAX {
            return Err(invalid(format!(
                "{} entries; at most {}",
                entries.len(),
                format::ENTRIES_MAX
            )));
        }
        if let Some(pair) = entries.windows(2).find(|pair| pair[0].key == pair[1].key) {
            return Err(invalid(format!("key {} appears twice", pair[0].key)));
        }
        for entry in entries {
            let len_max_bytes = self.value_len_max(&entry.key).min(u32::MAX as usize);
            if entry.new.len() > len_max_bytes {
                return Err(McasError::TooLarge {
                    op,
                    len_bytes: entry.new.len(),
                    len_max_bytes,
                });
            }
        }
        let len_bytes = format::descriptor_len(entries);
        let len_max_bytes = self.config().value_len_max(DESCRIPTOR_KEY_LEN);
        if len_bytes > len_max_bytes {
            return Err(McasError::TooLarge {
                op,
                len_bytes,
                len_max_bytes,
            });
        }
        Ok(())
    }

    /// Writes a fresh undecided descriptor with `add` (drawing another id in
    /// the practically impossible case that one is taken). Nothing is
    /// claimed yet, so any failure here had no effect.
    async fn add_descriptor(&mut self, entries: &[DescriptorEntry]) -> Result<(NodeId, CasToken), McasError> {
        let op = McasOp::Mcas;
        let bytes = format::encode_descriptor(&format::Descriptor {
            status: format::Status::Undecided,
            entries: entries.to_vec(),
        });
        for _ in 0..self.retries_max {
            let id = NodeId(u128::from(self.rng.next_u64()) << 64 | u128::from(self.rng.next_u64()));
            let key = format::descriptor_key(id);
            match self.store.add(&key, bytes.clone()).await {
                Ok(AddOutcome::Stored(CasToken(0))) => return Err(self.cas_disabled(op, &key)),
                Ok(AddOutcome::Stored(token)) => return Ok((id, token)),
                Ok(AddOutcome::NotStored) => continue,
                // An undecided descriptor that claims nothing is inert.
                Err(source) => return Err(no_effect(op, source)),
            }
        }
        Err(McasError::RetriesExhausted {
            op,
            attempts: self.retries_max,
        })
    }

    /// The running life of `key`'s server, asked now and remembered.
    async fn ask_life(&mut self, op: McasOp, key: &Key) -> Result<u64, McasError> {
        let mark = self.rng.next_u64();
        let life = crate::store::lifetime(&self.store, key, mark)
            .await
            .map_err(|source| no_effect(op, source))?;
        let stamp = life.stamp();
        self.lives.insert(self.store.server_name(key), stamp);
        Ok(stamp)
    }

    /// Checks a value's life stamp against its server's running life: free
    /// when it matches the life last asked, one `stats` exchange otherwise.
    async fn check_life(&mut self, op: McasOp, key: &Key, found: u64) -> Result<(), McasError> {
        if self.lives.get(&self.store.server_name(key)) == Some(&found) {
            return Ok(());
        }
        let running = self.ask_life(op, key).await?;
        if running == found {
            Ok(())
        } else {
            Err(corruption(
                op,
                key,
                McasCorruptionKind::ForeignLifetime { running, found },
            ))
        }
    }

    fn config(&self) -> CoreConfig {
        CoreConfig {
            item_size_max: self.item_size_max,
            ..CoreConfig::default()
        }
    }

    fn cas_disabled(&self, op: McasOp, key: &Key) -> McasError {
        McasError::CasDisabled {
            op,
            server: self.store.server_name(key),
        }
    }
}

/// Length of every descriptor key: the prefix and 32 hex digits.
const DESCRIPTOR_KEY_LEN: usize = format::DESCRIPTOR_KEY_PREFIX.len() + 32;

/// Registers may be named anything memcached accepts except the
/// descriptors' space and the servers' life mark.
fn check_register_key(op: McasOp, key: &Key) -> Result<(), McasError> {
    let bytes = key.as_bytes();
    if bytes.starts_with(format::DESCRIPTOR_KEY_PREFIX.as_bytes()) || bytes == crate::store::LIFE_MARK_KEY.as_bytes() {
        return Err(McasError::InvalidEntries {
            op,
            reason: format!("key {key} is reserved for the library"),
        });
    }
    Ok(())
}

fn corruption(op: McasOp, key: &Key, kind: McasCorruptionKind) -> McasError {
    McasError::Corruption {
        op,
        key: key.clone(),
        kind,
    }
}

fn malformed(op: McasOp, key: &Key, error: format::McasFormatError) -> McasError {
    corruption(op, key, McasCorruptionKind::Malformed(error))
}

fn no_effect(op: McasOp, source: StoreError) -> McasError {
    McasError::Backend { op, source }
}

/// A failed write: unknown if the request may have been applied, or if the
/// server refused it in a way that removes the key's old item.
fn failed(op: McasOp, source: StoreError) -> McasError {
    if source.outcome_unknown() || source.unlinked_the_item() {
        McasError::OutcomeUnknown { op, source }
    } else {
        McasError::Backend { op, source }
    }
}
