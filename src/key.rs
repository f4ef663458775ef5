//! Memcached keys, validated before anything reaches a wire or a table.
//!
//! memcached's text protocols split commands on spaces only, so a key holding a
//! space (or a newline) does not fail: it desynchronises the connection and the
//! rest of the key is read as a new command (docs/memcached.md). Every key is therefore
//! checked once, on the client side, when it is built; a [`Key`] that exists is
//! always safe to send.

use std::fmt;
use std::sync::Arc;

/// The longest key memcached accepts, in bytes.
pub const KEY_LEN_MAX: usize = 250;

/// A key memcached will accept exactly as written: 1 to 250 bytes, none of
/// them a space, a control character or DEL.
///
/// Holding a `Key` is the proof that it was checked, so stores never have to
/// re-validate or guard against protocol injection. Clones share the bytes:
/// a key travels from a command to a trace to an error without copying.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(Arc<[u8]>);

/// Why a byte string cannot be a memcached key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// memcached rejects the empty key.
    #[error("a key cannot be empty")]
    Empty,
    /// memcached answers `CLIENT_ERROR` for keys over 250 bytes.
    #[error("key is {len_bytes} bytes long; memcached allows at most {KEY_LEN_MAX}")]
    TooLong {
        /// The length that was offered.
        len_bytes: usize,
    },
    /// A space or control byte would split or end the command on the wire.
    #[error("key byte {position} is {byte:#04x}: spaces and control characters are not allowed")]
    ForbiddenByte {
        /// Zero-based offset of the first offending byte.
        position: usize,
        /// The offending byte.
        byte: u8,
    },
}

impl Key {
    /// Checks `bytes` against memcached's key rules.
    pub fn new(bytes: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let bytes = bytes.as_ref();
        validate(bytes)?;
        Ok(Key(bytes.into()))
    }

    /// The raw key bytes, as sent on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key's length in bytes (it counts against the item size limit).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: an empty key cannot be built. Present for clippy's
    /// `len_without_is_empty` and for generic code.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Checks a candidate key without allocating; [`Key::new`] uses it, and so do
/// callers that only need to know whether a name would fit.
pub fn validate(bytes: &[u8]) -> Result<(), KeyError> {
    if bytes.is_empty() {
        return Err(KeyError::Empty);
    }
    if bytes.len() > KEY_LEN_MAX {
        return Err(KeyError::TooLong { len_bytes: bytes.len() });
    }
    match bytes.iter().position(|&b| b <= b' ' || b == 0x7f) {
        Some(position) => Err(KeyError::ForbiddenByte {
            position,
            byte: bytes[position],
        }),
        None => Ok(()),
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({self})")
    }
}

impl fmt::Display for Key {
    /// Keys are printable ASCII in practice; other bytes are escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.escape_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_longest_printable_key() {
        assert!(Key::new(vec![b'k'; KEY_LEN_MAX]).is_ok());
    }

    #[test]
    fn rejects_what_memcached_would_misparse() {
        assert_eq!(Key::new(""), Err(KeyError::Empty));
        assert_eq!(
            Key::new(vec![b'k'; KEY_LEN_MAX + 1]),
            Err(KeyError::TooLong { len_bytes: 251 })
        );
        assert_eq!(
            Key::new("a b"),
            Err(KeyError::ForbiddenByte {
                position: 1,
                byte: b' '
            })
        );
        assert!(Key::new("a\r\nflush_all").is_err());
        assert!(Key::new("tab\there").is_err());
        assert!(Key::new([b'a', 0x7f]).is_err());
    }

    #[test]
    fn utf8_beyond_ascii_is_allowed_as_memcached_allows_it() {
        assert!(Key::new("café").is_ok());
    }
}
