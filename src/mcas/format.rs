//! The bytes MCAS stores, in the deque's framing (the magic byte `0xD9`,
//! format version `1`, a kind byte; integers big-endian), so that a client
//! in any language can join from this page.
//!
//! # A register (any key MCAS manages)
//!
//! Either a value or a claim:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0..3 | 3 | `D9 01 56` (`'V'`): a value |
//! | 3 | 8 | the life stamp of the register's server when the value was first written there (`store::Life::stamp`) |
//! | 11 | rest | the value's bytes (may be empty) |
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0..3 | 3 | `D9 01 43` (`'C'`): claimed by an MCAS in progress |
//! | 3 | 16 | the descriptor's id; nothing follows |
//!
//! A claim stands for "whatever descriptor `id` decides": its old value
//! until the descriptor succeeds, its new value after. Readers resolve it
//! by helping the descriptor to its end ([`super::McasClient::get`]).
//!
//! # A descriptor
//!
//! Under [`descriptor_key`]`(id)`; written once with `add`, then its status
//! byte changes once by `cas` (undecided to succeeded or failed).
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0..3 | 3 | `D9 01 4D` (`'M'`) |
//! | 3 | 1 | status: `0` undecided, `1` succeeded, `2` failed |
//! | 4 | 2 | entry count `n`, at least 1 |
//! | 6 | .. | `n` entries, in strictly increasing key order (bytewise) |
//!
//! Each entry: key length (1 byte), the key, the CAS token the register
//! held when it was read (8), the life stamp of its value (8), the old
//! value's length (4) and bytes, the new value's length (4) and bytes.
//! Nothing follows the last entry.
//!
//! Decoding never panics and never guesses: anything else is a
//! [`McasFormatError`], which MCAS reports as corruption naming the key.

use crate::format::{MAGIC, NodeId, VERSION};
use crate::key::Key;
use crate::store::CasToken;

const KIND_VALUE: u8 = b'V';
const KIND_CLAIM: u8 = b'C';
const KIND_DESCRIPTOR: u8 = b'M';
const HEADER_LEN: usize = 3;
const ID_LEN: usize = 16;
/// Bytes a register adds around its value.
pub const VALUE_OVERHEAD_BYTES: usize = HEADER_LEN + 8;
/// Bytes of a descriptor before its entries.
pub const DESCRIPTOR_HEADER_BYTES: usize = HEADER_LEN + 1 + 2;
/// Bytes each descriptor entry adds beyond its key and its two values.
pub const DESCRIPTOR_ENTRY_OVERHEAD_BYTES: usize = 1 + 8 + 8 + 4 + 4;
/// Entries one descriptor can hold (its count is 16 bits).
pub const ENTRIES_MAX: usize = u16::MAX as usize;
/// The prefix of every descriptor key; no register may start with it.
pub const DESCRIPTOR_KEY_PREFIX: &str = "memcache-collections:mcas:";

/// The key descriptor `id` lives under: the prefix and 32 hex digits.
pub fn descriptor_key(id: NodeId) -> Key {
    Key::new(format!("{DESCRIPTOR_KEY_PREFIX}{id}")).expect("a descriptor key is 58 printable bytes")
}

/// What a register holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Register {
    /// A value, stamped with the life of the server it was written in.
    Value {
        /// The server life the value belongs to (`store::Life::stamp`).
        life: u64,
        /// The bytes.
        value: Vec<u8>,
    },
    /// Claimed by the descriptor with this id.
    Claim(NodeId),
}

/// A descriptor's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Still claiming its registers.
    Undecided,
    /// Every register was claimed at its expected token: the new values win.
    Succeeded,
    /// Some register had changed: the old values stay.
    Failed,
}

/// One register of an MCAS: where, what it was, what it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptorEntry {
    /// The register's key.
    pub key: Key,
    /// The token it held when read; the claim is a `cas` on it.
    pub token: CasToken,
    /// The life stamp of the value read, copied into whatever is written
    /// back, so a write from a token of another life reads as foreign.
    pub life: u64,
    /// The value read.
    pub old: Vec<u8>,
    /// The value to install if the MCAS succeeds.
    pub new: Vec<u8>,
}

/// An MCAS in the store: its status and its entries in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// The decision so far.
    pub status: Status,
    /// The registers, sorted by key, no key twice.
    pub entries: Vec<DescriptorEntry>,
}

/// Why bytes under an MCAS key are not what MCAS writes there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum McasFormatError {
    /// Fewer bytes than the fields so far need.
    #[error("entry is {len_bytes} bytes; at least {needed_bytes} needed")]
    Truncated {
        /// Bytes present.
        len_bytes: usize,
        /// Bytes the fields so far require.
        needed_bytes: usize,
    },
    /// Not written by this library (no magic byte), or by an unknown version.
    #[error("header {found:02x?} is not MCAS format version {VERSION}")]
    BadHeader {
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// A register where a descriptor was expected, or the reverse, or a
    /// deque entry.
    #[error("entry kind {found:#04x} is not {expected}")]
    WrongKind {
        /// The kind byte found.
        found: u8,
        /// What was required.
        expected: &'static str,
    },
    /// A status byte outside 0..=2.
    #[error("descriptor status {found} is not 0, 1 or 2")]
    BadStatus {
        /// The byte found.
        found: u8,
    },
    /// A descriptor's entries out of key order, repeated, or none.
    #[error("descriptor entries are not in strictly increasing key order, or there are none")]
    BadEntries,
    /// A key in a descriptor that memcached would not accept.
    #[error("descriptor entry key is not a valid memcached key")]
    BadKey,
    /// Bytes after a complete claim or descriptor.
    #[error("{extra_bytes} unexpected bytes after the entry")]
    TrailingBytes {
        /// How many.
        extra_bytes: usize,
    },
}

/// Encodes a register's contents.
pub fn encode_register(register: &Register) -> Vec<u8> {
    match register {
        Register::Value { life, value } => {
            let mut bytes = Vec::with_capacity(VALUE_OVERHEAD_BYTES + value.len());
            bytes.extend_from_slice(&[MAGIC, VERSION, KIND_VALUE]);
            bytes.extend_from_slice(&life.to_be_bytes());
            bytes.extend_from_slice(value);
            bytes
        }
        Register::Claim(id) => {
            let mut bytes = Vec::with_capacity(HEADER_LEN + ID_LEN);
            bytes.extend_from_slice(&[MAGIC, VERSION, KIND_CLAIM]);
            bytes.extend_from_slice(&id.0.to_be_bytes());
            bytes
        }
    }
}

/// Decodes a register's contents.
pub fn decode_register(bytes: &[u8]) -> Result<Register, McasFormatError> {
    let mut reader = Reader::new(bytes);
    match reader.header()? {
        KIND_VALUE => {
            let life = reader.u64()?;
            Ok(Register::Value {
                life,
                value: reader.rest().to_vec(),
            })
        }
        KIND_CLAIM => {
            let id = NodeId(u128::from_be_bytes(reader.array()?));
            reader.end()?;
            Ok(Register::Claim(id))
        }
        found => Err(McasFormatError::WrongKind {
            found,
            expected: "a register (value or claim)",
        }),
    }
}

/// The encoded length of a descriptor with `entries`, to check against the
/// item limit before anything is written.
pub fn descriptor_len(entries: &[DescriptorEntry]) -> usize {
    DESCRIPTOR_HEADER_BYTES
        + entries
            .iter()
            .map(|e| DESCRIPTOR_ENTRY_OVERHEAD_BYTES + e.key.len() + e.old.len() + e.new.len())
            .sum::<usize>()
}

/// Encodes a descriptor. Its entries must be sorted by key, at most
/// [`ENTRIES_MAX`], each value under 4 GiB (the caller checks sizes).
pub fn encode_descriptor(descriptor: &Descriptor) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(descriptor_len(&descriptor.entries));
    let status = match descriptor.status {
        Status::Undecided => 0,
        Status::Succeeded => 1,
        Status::Failed => 2,
    };
    bytes.extend_from_slice(&[MAGIC, VERSION, KIND_DESCRIPTOR, status]);
    let count = u16::try_from(descriptor.entries.len()).expect("at most ENTRIES_MAX entries");
    bytes.extend_from_slice(&count.to_be_bytes());
    for entry in &descriptor.entries {
        let key_len = u8::try_from(entry.key.len()).expect("keys are at most 250 bytes");
        bytes.push(key_len);
        bytes.extend_from_slice(entry.key.as_bytes());
        bytes.extend_from_slice(&entry.token.0.to_be_bytes());
        bytes.extend_from_slice(&entry.life.to_be_bytes());
        for value in [&entry.old, &entry.new] {
            let len = u32::try_from(value.len()).expect("values fit in one item");
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(value);
        }
    }
    bytes
}

/// Decodes a descriptor.
pub fn decode_descriptor(bytes: &[u8]) -> Result<Descriptor, McasFormatError> {
    let mut reader = Reader::new(bytes);
    let kind = reader.header()?;
    if kind != KIND_DESCRIPTOR {
        return Err(McasFormatError::WrongKind {
            found: kind,
            expected: "a descriptor",
        });
    }
    let status = match reader.array::<1>()?[0] {
        0 => Status::Undecided,
        1 => Status::Succeeded,
        2 => Status::Failed,
        found => return Err(McasFormatError::BadStatus { found }),
    };
    let count = u16::from_be_bytes(reader.array()?);
    let mut entries: Vec<DescriptorEntry> = Vec::with_capacity(usize::from(count).min(1024));
    for _ in 0..count {
        let key_len = usize::from(reader.array::<1>()?[0]);
        let key = Key::new(reader.take(key_len)?).map_err(|_| McasFormatError::BadKey)?;
        if entries.last().is_some_and(|last| last.key >= key) {
            return Err(McasFormatError::BadEntries);
        }
        let token = CasToken(reader.u64()?);
        let life = reader.u64()?;
        let old = reader.value()?;
        let new = reader.value()?;
        entries.push(DescriptorEntry {
            key,
            token,
            life,
            old,
            new,
        });
    }
    if entries.is_empty() {
        return Err(McasFormatError::BadEntries);
    }
    reader.end()?;
    Ok(Descriptor { status, entries })
}

/// A cursor that turns every short read into [`McasFormatError::Truncated`].
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    /// Checks magic and version; returns the kind byte.
    fn header(&mut self) -> Result<u8, McasFormatError> {
        let header: [u8; HEADER_LEN] = self.array()?;
        if header[0] != MAGIC || header[1] != VERSION {
            return Err(McasFormatError::BadHeader {
                found: header[..2].to_vec(),
            });
        }
        Ok(header[2])
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], McasFormatError> {
        let needed_bytes = self.at.saturating_add(len);
        let taken = self
            .bytes
            .get(self.at..needed_bytes)
            .ok_or(McasFormatError::Truncated {
                len_bytes: self.bytes.len(),
                needed_bytes,
            })?;
        self.at = needed_bytes;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], McasFormatError> {
        Ok(self.take(N)?.try_into().expect("take returns N bytes"))
    }

    fn u64(&mut self) -> Result<u64, McasFormatError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn value(&mut self) -> Result<Vec<u8>, McasFormatError> {
        let len = u32::from_be_bytes(self.array()?);
        let len = usize::try_from(len).map_err(|_| McasFormatError::Truncated {
            len_bytes: self.bytes.len(),
            needed_bytes: usize::MAX,
        })?;
        Ok(self.take(len)?.to_vec())
    }

    fn rest(&mut self) -> &'a [u8] {
        let rest = &self.bytes[self.at..];
        self.at = self.bytes.len();
        rest
    }

    fn end(&self) -> Result<(), McasFormatError> {
        match self.bytes.len() - self.at {
            0 => Ok(()),
            extra_bytes => Err(McasFormatError::TrailingBytes { extra_bytes }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, old: &str, new: &str) -> DescriptorEntry {
        DescriptorEntry {
            key: Key::new(key).unwrap(),
            token: CasToken(7),
            life: 0xfeed,
            old: old.as_bytes().to_vec(),
            new: new.as_bytes().to_vec(),
        }
    }

    #[test]
    fn registers_round_trip() {
        for register in [
            Register::Value {
                life: 3,
                value: b"balance=10".to_vec(),
            },
            Register::Value { life: 0, value: vec![] },
            Register::Claim(NodeId(u128::MAX - 5)),
        ] {
            let bytes = encode_register(&register);
            assert_eq!(decode_register(&bytes), Ok(register));
        }
    }

    #[test]
    fn descriptors_round_trip_and_their_length_is_known_in_advance() {
        let descriptor = Descriptor {
            status: Status::Failed,
            entries: vec![entry("a", "1", "2"), entry("b", "", "three")],
        };
        let bytes = encode_descriptor(&descriptor);
        assert_eq!(bytes.len(), descriptor_len(&descriptor.entries));
        assert_eq!(decode_descriptor(&bytes), Ok(descriptor));
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        let claim = encode_register(&Register::Claim(NodeId(1)));
        let descriptor = encode_descriptor(&Descriptor {
            status: Status::Undecided,
            entries: vec![entry("a", "1", "2")],
        });
        assert!(matches!(
            decode_register(b"plain"),
            Err(McasFormatError::BadHeader { .. })
        ));
        assert!(matches!(decode_register(&[]), Err(McasFormatError::Truncated { .. })));
        assert!(matches!(
            decode_register(&claim[..10]),
            Err(McasFormatError::Truncated { .. })
        ));
        let mut long_claim = claim.clone();
        long_claim.push(0);
        assert_eq!(
            decode_register(&long_claim),
            Err(McasFormatError::TrailingBytes { extra_bytes: 1 })
        );
        assert!(matches!(
            decode_register(&descriptor),
            Err(McasFormatError::WrongKind { .. })
        ));
        assert!(matches!(
            decode_descriptor(&claim),
            Err(McasFormatError::WrongKind { .. })
        ));
        let mut bad_status = descriptor.clone();
        bad_status[3] = 9;
        assert_eq!(
            decode_descriptor(&bad_status),
            Err(McasFormatError::BadStatus { found: 9 })
        );
        for cut in 0..descriptor.len() {
            assert!(decode_descriptor(&descriptor[..cut]).is_err(), "cut at {cut}");
        }
        let unsorted = encode_descriptor(&Descriptor {
            status: Status::Undecided,
            entries: vec![entry("b", "1", "2"), entry("a", "1", "2")],
        });
        assert_eq!(decode_descriptor(&unsorted), Err(McasFormatError::BadEntries));
        let none = encode_descriptor(&Descriptor {
            status: Status::Undecided,
            entries: vec![],
        });
        assert_eq!(decode_descriptor(&none), Err(McasFormatError::BadEntries));
    }
}
