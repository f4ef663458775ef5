//! The bytes stored under a deque's keys: a versioned, language-neutral
//! format that a client in any language can implement from this page.
//!
//! # Keys
//! - The **anchor** lives under the deque's name (1 to 217 bytes, memcached key
//!   rules: no spaces, no control characters).
//! - A **node** lives under `<name>:<id>`, where `<id>` is the node's 128-bit
//!   random id as 32 lowercase hexadecimal digits. Hence the name limit:
//!   217 + 1 + 32 = 250, memcached's key limit.
//!
//! # Entries
//! Every entry starts with a 3-byte header; all integers are big-endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | magic `0xD9` |
//! | 1 | 1 | format version, `1` |
//! | 2 | 1 | kind: `0x41` (`'A'`) anchor, `0x4E` (`'N'`) node |
//!
//! **Anchor, version 1** (5 to 45 bytes):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 3 | 1 | status: `0` stable, `1` a right push is half done, `2` a left push is half done |
//! | 4 | 1 | present: bit 0 = left end, bit 1 = right end, bit 2 = server lifetime; other bits zero |
//! | 5 | 16 | left end's node id, if bit 0 |
//! | .. | 16 | right end's node id, if bit 1 |
//! | .. | 8 | the anchor server's lifetime, if bit 2 |
//!
//! An empty deque has neither end; a one-item deque has both, equal. The
//! lifetime identifies the run of the memcached process that holds the
//! anchor (see `store::Command::Lifetime`); `create` stamps it and every
//! later anchor copies it from the one it replaces. CAS tokens are unique
//! only within one lifetime, so a client that read the anchor before a
//! restart can overwrite a re-created deque with its token (the restart
//! ABA, FINDINGS.md); what it writes then carries the old lifetime, which
//! every reader recognises. `michael2003` writes none; `hardened` always
//! does.
//!
//! **Node, version 1** (4 to 36 bytes plus the value):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 3 | 1 | links present: bit 0 = prev (left neighbour), bit 1 = next (right neighbour); other bits zero |
//! | 4 | 16 | prev node id, if bit 0 |
//! | .. | 16 | next node id, if bit 1 |
//! | .. | rest | the value, all remaining bytes (may be empty) |
//!
//! Decoding never panics and never guesses: a wrong magic, an unknown version
//! or kind, reserved bits set, a truncated field or trailing bytes after an
//! anchor all yield a [`FormatError`], which the deque reports as corruption.

use std::fmt;

/// First byte of every entry; tells deque entries from foreign data.
pub const MAGIC: u8 = 0xD9;
/// The only format version this library writes and reads.
pub const VERSION: u8 = 1;
const KIND_ANCHOR: u8 = b'A';
const KIND_NODE: u8 = b'N';
const HEADER_LEN: usize = 3;
const ID_LEN: usize = 16;
/// Presence-byte bit of an anchor that carries a server lifetime.
const LIFETIME_FLAG: u8 = 0b100;

/// The bytes a node adds around its value at most (header, link flags, two
/// links): what the deque subtracts from the item limit to get the largest
/// value it accepts.
pub const NODE_OVERHEAD_BYTES_MAX: usize = HEADER_LEN + 1 + 2 * ID_LEN;

/// Length of a node key's suffix: `:` and 32 hex digits.
pub const NODE_KEY_SUFFIX_LEN: usize = 1 + 2 * ID_LEN;

/// The key of node `id` of the deque named `deque_name`:
/// `<deque_name>:<id as 32 hex digits>`. Every process that shares a deque
/// must build node keys this way; the harness uses it to name a node it
/// destroys. Fails only if the name leaves no room for the suffix (deque
/// names are checked for that when a handle is made).
#[inline]
pub fn node_key(deque_name: &str, id: NodeId) -> Result<crate::key::Key, crate::key::KeyError> {
    crate::key::Key::new(format!("{deque_name}:{id}"))
}

/// The prefix every node key of the deque named `deque_name` starts with.
pub fn node_key_prefix(deque_name: &str) -> String {
    format!("{deque_name}:")
}

/// A node's identity: 128 random bits, so ids never collide in practice and
/// never repeat, which keeps a recycled id from posing as an old node.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u128);

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// Whether the anchor records a push that has not yet linked its
/// predecessor to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every neighbour link is in place.
    Stable,
    /// A right push swung the anchor; its left neighbour's `next` may not
    /// point at it yet.
    RightPush,
    /// A left push swung the anchor; its right neighbour's `prev` may not
    /// point at it yet.
    LeftPush,
}

/// The deque's root entry: which nodes are the ends, and whether a push is
/// half done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// Stable or mid-push.
    pub status: Status,
    /// The leftmost node, if any.
    pub left: Option<NodeId>,
    /// The rightmost node, if any.
    pub right: Option<NodeId>,
    /// The lifetime of the anchor's server when the deque was created,
    /// copied into every later anchor (see the module docs); `None` for
    /// algorithms that do not track it.
    pub lifetime: Option<u64>,
}

impl Anchor {
    /// The anchor of an empty deque with no lifetime stamp.
    pub const EMPTY: Anchor = Anchor {
        status: Status::Stable,
        left: None,
        right: None,
        lifetime: None,
    };

    /// An empty anchor with the same lifetime stamp.
    pub fn emptied(&self) -> Anchor {
        Anchor {
            lifetime: self.lifetime,
            ..Anchor::EMPTY
        }
    }

    /// Both ends absent.
    pub fn is_empty(&self) -> bool {
        self.left.is_none() && self.right.is_none()
    }

    /// Both ends present and the same node.
    pub fn is_single(&self) -> bool {
        self.left.is_some() && self.left == self.right
    }
}

/// One element of the deque and its neighbour links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The left neighbour, if linked.
    pub prev: Option<NodeId>,
    /// The right neighbour, if linked.
    pub next: Option<NodeId>,
    /// The user's bytes.
    pub value: Vec<u8>,
}

/// Why bytes under a deque key are not a valid entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Fewer bytes than the fixed part of the entry.
    #[error("entry is {len_bytes} bytes; at least {needed_bytes} needed")]
    Truncated {
        /// Bytes present.
        len_bytes: usize,
        /// Bytes the fields so far require.
        needed_bytes: usize,
    },
    /// The first byte is not [`MAGIC`]: not written by a deque client.
    #[error("magic byte is {found:#04x}, expected {MAGIC:#04x}")]
    BadMagic {
        /// The byte found.
        found: u8,
    },
    /// Written by a newer (or unknown) format version.
    #[error("format version {found} is not supported (this client reads {VERSION})")]
    UnsupportedVersion {
        /// The version found.
        found: u8,
    },
    /// An anchor where a node was expected, or the reverse, or an unknown kind.
    #[error("entry kind {found:#04x}, expected {expected:#04x}")]
    WrongKind {
        /// The kind byte found.
        found: u8,
        /// The kind byte required.
        expected: u8,
    },
    /// An anchor status outside 0..=2.
    #[error("anchor status {found} is not 0, 1 or 2")]
    BadStatus {
        /// The status byte found.
        found: u8,
    },
    /// Reserved bits set in a link-presence byte.
    #[error("link flags {found:#04x} have reserved bits set")]
    BadLinkFlags {
        /// The flags byte found.
        found: u8,
    },
    /// Bytes after a complete anchor.
    #[error("{extra_bytes} unexpected bytes after the anchor")]
    TrailingBytes {
        /// How many.
        extra_bytes: usize,
    },
}

/// Encodes an anchor (see the module docs for the layout).
pub fn encode_anchor(anchor: &Anchor) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + 2 + 2 * ID_LEN);
    out.extend_from_slice(&[MAGIC, VERSION, KIND_ANCHOR]);
    out.push(match anchor.status {
        Status::Stable => 0,
        Status::RightPush => 1,
        Status::LeftPush => 2,
    });
    let lifetime_flag = if anchor.lifetime.is_some() { LIFETIME_FLAG } else { 0 };
    put_links(&mut out, anchor.left, anchor.right, lifetime_flag);
    if let Some(lifetime) = anchor.lifetime {
        out.extend_from_slice(&lifetime.to_be_bytes());
    }
    out
}

/// Decodes an anchor, rejecting anything that is not exactly one.
pub fn decode_anchor(bytes: &[u8]) -> Result<Anchor, FormatError> {
    let mut reader = Reader::new(bytes, KIND_ANCHOR)?;
    let status = match reader.byte()? {
        0 => Status::Stable,
        1 => Status::RightPush,
        2 => Status::LeftPush,
        found => return Err(FormatError::BadStatus { found }),
    };
    let (left, right, flags) = reader.links(0b11 | LIFETIME_FLAG)?;
    let lifetime = if flags & LIFETIME_FLAG != 0 {
        let raw: [u8; 8] = reader.take(8)?.try_into().expect("take returned exactly 8 bytes");
        Some(u64::from_be_bytes(raw))
    } else {
        None
    };
    let rest = reader.rest();
    if !rest.is_empty() {
        return Err(FormatError::TrailingBytes {
            extra_bytes: rest.len(),
        });
    }
    Ok(Anchor {
        status,
        left,
        right,
        lifetime,
    })
}

/// Encodes a node (see the module docs for the layout).
pub fn encode_node(node: &Node) -> Vec<u8> {
    let mut out = Vec::with_capacity(NODE_OVERHEAD_BYTES_MAX + node.value.len());
    out.extend_from_slice(&[MAGIC, VERSION, KIND_NODE]);
    put_links(&mut out, node.prev, node.next, 0);
    out.extend_from_slice(&node.value);
    out
}

/// Decodes a node.
pub fn decode_node(bytes: &[u8]) -> Result<Node, FormatError> {
    let mut reader = Reader::new(bytes, KIND_NODE)?;
    let (prev, next, _) = reader.links(0b11)?;
    Ok(Node {
        prev,
        next,
        value: reader.rest().to_vec(),
    })
}

fn put_links(out: &mut Vec<u8>, first: Option<NodeId>, second: Option<NodeId>, extra_flags: u8) {
    out.push(u8::from(first.is_some()) | (u8::from(second.is_some()) << 1) | extra_flags);
    for id in [first, second].into_iter().flatten() {
        out.extend_from_slice(&id.0.to_be_bytes());
    }
}

/// A bounds-checked cursor: every read either yields the bytes or a
/// `Truncated` error, so no input can index out of range.
struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], expected_kind: u8) -> Result<Self, FormatError> {
        let mut reader = Reader { bytes, position: 0 };
        let header = reader.take(HEADER_LEN)?;
        if header[0] != MAGIC {
            return Err(FormatError::BadMagic { found: header[0] });
        }
        if header[1] != VERSION {
            return Err(FormatError::UnsupportedVersion { found: header[1] });
        }
        if header[2] != expected_kind {
            return Err(FormatError::WrongKind {
                found: header[2],
                expected: expected_kind,
            });
        }
        Ok(reader)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], FormatError> {
        let end = self.position + len;
        let slice = self.bytes.get(self.position..end).ok_or(FormatError::Truncated {
            len_bytes: self.bytes.len(),
            needed_bytes: end,
        })?;
        self.position = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, FormatError> {
        Ok(self.take(1)?[0])
    }

    fn id(&mut self) -> Result<NodeId, FormatError> {
        let raw: [u8; ID_LEN] = self
            .take(ID_LEN)?
            .try_into()
            .expect("take returned exactly ID_LEN bytes");
        Ok(NodeId(u128::from_be_bytes(raw)))
    }

    /// The presence byte (only bits in `allowed` may be set) and the links
    /// it announces.
    fn links(&mut self, allowed: u8) -> Result<(Option<NodeId>, Option<NodeId>, u8), FormatError> {
        let flags = self.byte()?;
        if flags & !allowed != 0 {
            return Err(FormatError::BadLinkFlags { found: flags });
        }
        let first = if flags & 0b01 != 0 { Some(self.id()?) } else { None };
        let second = if flags & 0b10 != 0 { Some(self.id()?) } else { None };
        Ok((first, second, flags))
    }

    fn rest(&self) -> &'a [u8] {
        &self.bytes[self.position..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id() -> impl Strategy<Value = Option<NodeId>> {
        proptest::option::of(any::<u128>().prop_map(NodeId))
    }

    fn status() -> impl Strategy<Value = Status> {
        prop_oneof![Just(Status::Stable), Just(Status::RightPush), Just(Status::LeftPush)]
    }

    #[test]
    fn layout_matches_the_documented_bytes() {
        let anchor = Anchor {
            status: Status::RightPush,
            left: Some(NodeId(1)),
            right: None,
            lifetime: None,
        };
        let mut expected = vec![0xD9, 1, b'A', 1, 0b01];
        expected.extend_from_slice(&1u128.to_be_bytes());
        assert_eq!(encode_anchor(&anchor), expected);
        assert_eq!(encode_anchor(&Anchor::EMPTY), vec![0xD9, 1, b'A', 0, 0]);
        let with_lifetime = Anchor {
            lifetime: Some(0x0102),
            ..Anchor::EMPTY
        };
        assert_eq!(
            encode_anchor(&with_lifetime),
            vec![0xD9, 1, b'A', 0, 0b100, 0, 0, 0, 0, 0, 0, 1, 2]
        );

        let node = Node {
            prev: None,
            next: Some(NodeId(2)),
            value: b"hi".to_vec(),
        };
        let mut expected = vec![0xD9, 1, b'N', 0b10];
        expected.extend_from_slice(&2u128.to_be_bytes());
        expected.extend_from_slice(b"hi");
        assert_eq!(encode_node(&node), expected);
    }

    #[test]
    fn rejects_each_kind_of_malformation() {
        assert!(matches!(decode_anchor(&[]), Err(FormatError::Truncated { .. })));
        assert_eq!(
            decode_anchor(&[0, 1, b'A', 0, 0]),
            Err(FormatError::BadMagic { found: 0 })
        );
        assert_eq!(
            decode_anchor(&[0xD9, 2, b'A', 0, 0]),
            Err(FormatError::UnsupportedVersion { found: 2 })
        );
        assert!(matches!(
            decode_anchor(&[0xD9, 1, b'N', 0]),
            Err(FormatError::WrongKind { .. })
        ));
        assert_eq!(
            decode_anchor(&[0xD9, 1, b'A', 3, 0]),
            Err(FormatError::BadStatus { found: 3 })
        );
        assert_eq!(
            decode_node(&[0xD9, 1, b'N', 0b100]),
            Err(FormatError::BadLinkFlags { found: 0b100 })
        );
        assert!(matches!(
            decode_node(&[0xD9, 1, b'N', 0b01, 1, 2]),
            Err(FormatError::Truncated { .. })
        ));
        assert_eq!(
            decode_anchor(&[0xD9, 1, b'A', 0, 0, 7]),
            Err(FormatError::TrailingBytes { extra_bytes: 1 })
        );
        assert_eq!(
            decode_anchor(&[0xD9, 1, b'A', 0, 0b1000]),
            Err(FormatError::BadLinkFlags { found: 0b1000 })
        );
        assert!(matches!(
            decode_anchor(&[0xD9, 1, b'A', 0, 0b100, 1, 2]),
            Err(FormatError::Truncated { .. })
        ));
    }

    proptest! {
        #[test]
        fn anchors_round_trip(status in status(), left in id(), right in id(), lifetime in proptest::option::of(any::<u64>())) {
            let anchor = Anchor { status, left, right, lifetime };
            prop_assert_eq!(decode_anchor(&encode_anchor(&anchor)), Ok(anchor));
        }

        #[test]
        fn nodes_round_trip(prev in id(), next in id(), value in proptest::collection::vec(any::<u8>(), 0..64)) {
            let node = Node { prev, next, value };
            prop_assert_eq!(decode_node(&encode_node(&node)), Ok(node));
        }

        /// Arbitrary bytes never panic the decoders; they decode or say why not.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = decode_anchor(&bytes);
            let _ = decode_node(&bytes);
        }

        /// Bytes that start like a real entry explore the deeper branches.
        #[test]
        fn plausible_prefixes_never_panic(kind in prop_oneof![Just(b'A'), Just(b'N'), any::<u8>()],
                                          tail in proptest::collection::vec(any::<u8>(), 0..48)) {
            let mut bytes = vec![MAGIC, VERSION, kind];
            bytes.extend(tail);
            let _ = decode_anchor(&bytes);
            let _ = decode_node(&bytes);
        }
    }
}
