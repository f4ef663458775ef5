"""The bytes under a deque's keys, as ``src/format.rs`` documents them.

Every entry starts with the magic byte 0xD9, format version 1 and a kind
(``A`` anchor, ``N`` node); integers are big-endian. Decoding never guesses:
anything that is not exactly an entry raises :class:`FormatError`, which the
deque reports as corruption.
"""

from dataclasses import dataclass, replace
from typing import Optional

MAGIC = 0xD9
VERSION = 1
KIND_ANCHOR = ord("A")
KIND_NODE = ord("N")
ID_LEN = 16
LIFETIME_FLAG = 0b100
#: Header, link flags and two links: what a node adds around its value at most.
NODE_OVERHEAD_BYTES_MAX = 3 + 1 + 2 * ID_LEN

STABLE, RIGHT_PUSH, LEFT_PUSH = 0, 1, 2


class FormatError(ValueError):
    """Bytes under a deque key that are not a valid entry."""


@dataclass(frozen=True)
class Anchor:
    """Which nodes are the ends (128-bit ids), whether a push is half done,
    and the anchor server's life stamp."""

    status: int = STABLE
    left: Optional[int] = None
    right: Optional[int] = None
    lifetime: Optional[int] = None

    def is_empty(self) -> bool:
        return self.left is None and self.right is None

    def is_single(self) -> bool:
        return self.left is not None and self.left == self.right

    def emptied(self) -> "Anchor":
        return Anchor(lifetime=self.lifetime)

    def stable(self) -> "Anchor":
        return replace(self, status=STABLE)


@dataclass
class Node:
    """One value and its neighbours' ids (``prev`` to the left)."""

    prev: Optional[int]
    next: Optional[int]
    value: bytes


def node_key(name: str, node_id: int) -> str:
    """``<name>:<id as 32 lowercase hex digits>``."""
    return f"{name}:{node_id:032x}"


def _links(first: Optional[int], second: Optional[int], extra: int) -> bytes:
    out = bytes([(first is not None) | ((second is not None) << 1) | extra])
    for link in (first, second):
        if link is not None:
            out += link.to_bytes(ID_LEN, "big")
    return out


def encode_anchor(anchor: Anchor) -> bytes:
    flag = LIFETIME_FLAG if anchor.lifetime is not None else 0
    out = bytes([MAGIC, VERSION, KIND_ANCHOR, anchor.status]) + _links(anchor.left, anchor.right, flag)
    if anchor.lifetime is not None:
        out += anchor.lifetime.to_bytes(8, "big")
    return out


def encode_node(node: Node) -> bytes:
    return bytes([MAGIC, VERSION, KIND_NODE]) + _links(node.prev, node.next, 0) + node.value


class _Reader:
    def __init__(self, data: bytes, kind: int):
        self.data, self.at = data, 0
        magic, version, found = self.take(3)
        if magic != MAGIC:
            raise FormatError(f"magic byte is {magic:#04x}, expected {MAGIC:#04x}")
        if version != VERSION:
            raise FormatError(f"format version {version} is not supported (this client reads {VERSION})")
        if found != kind:
            raise FormatError(f"entry kind {found:#04x}, expected {kind:#04x}")

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise FormatError(f"entry is {len(self.data)} bytes; at least {self.at + n} needed")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def links(self, allowed: int):
        flags = self.take(1)[0]
        if flags & ~allowed:
            raise FormatError(f"link flags {flags:#04x} have reserved bits set")
        first = int.from_bytes(self.take(ID_LEN), "big") if flags & 1 else None
        second = int.from_bytes(self.take(ID_LEN), "big") if flags & 2 else None
        return first, second, flags

    def rest(self) -> bytes:
        return self.data[self.at :]


def decode_anchor(data: bytes) -> Anchor:
    reader = _Reader(data, KIND_ANCHOR)
    status = reader.take(1)[0]
    if status > LEFT_PUSH:
        raise FormatError(f"anchor status {status} is not 0, 1 or 2")
    left, right, flags = reader.links(0b11 | LIFETIME_FLAG)
    lifetime = int.from_bytes(reader.take(8), "big") if flags & LIFETIME_FLAG else None
    if reader.rest():
        raise FormatError(f"{len(reader.rest())} unexpected bytes after the anchor")
    return Anchor(status, left, right, lifetime)


def decode_node(data: bytes) -> Node:
    reader = _Reader(data, KIND_NODE)
    prev, nxt, _ = reader.links(0b11)
    return Node(prev, nxt, reader.rest())
