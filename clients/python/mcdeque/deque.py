"""The lock-free deque on memcached (Michael 2003, as ``docs/algorithm.md``
describes it), with the hardened algorithm's guarantees: the anchor carries
its server's life stamp and a reader that finds another life reports
corruption; a push writes its node with ``add`` under an id mixed with the
anchor version; a lost reply to the CAS that completes an operation is
``OutcomeUnknown``, never retried; a node missing twice in a row, or gone
when its pop deletes it, is corruption. Written for the right end and
mirrored for the left, as the Rust library is (``src/deque/side.rs``).

It shares one deque with Rust clients: the bytes are ``src/format.rs``'s,
the routing libmemcached's ketama, the life stamp ``src/store/mod.rs``'s.
Unlike the Rust library it does not engineer round trips (no guessed
anchor, no pipelining): an uncontended push costs 7 requests, a pop 4.
"""

import random
import time
from typing import Optional, Tuple

from . import format as fmt
from .errors import (
    AlreadyExists,
    CasDisabled,
    Corruption,
    NoEffect,
    NotFound,
    OutcomeUnknown,
    RetriesExhausted,
    ValueTooLarge,
)
from .format import Anchor, FormatError, Node
from .store import NoReply, NotSent, ServerRefused, Store

ITEM_OVERHEAD_BYTES = 59
MASK64 = (1 << 64) - 1
#: The variants this client implements: the library's default, and two
#: deliberately broken copies (a lost reply retried as a lost race; a pop
#: of the last value that clears one end) that prove the harness catches a
#: client's bug.
VARIANTS = ("hardened", "retry-unknown-cas", "one-end-single-pop")


def _splitmix(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def life_stamp(identity: int, mark: bytes) -> int:
    """The number an anchor is stamped with (``Life::stamp``)."""
    folded = bytearray(8)
    for i, byte in enumerate(mark):
        folded[i % 8] ^= byte
    return identity ^ _splitmix(int.from_bytes(folded, "little"))


class _Side:
    """The right end (``right=True``) or its mirror."""

    def __init__(self, right: bool):
        self.right = right

    def end(self, anchor: Anchor) -> Optional[int]:
        return anchor.right if self.right else anchor.left

    def with_end(self, anchor: Anchor, node_id: Optional[int], status: int) -> Anchor:
        if self.right:
            return Anchor(status, anchor.left, node_id, anchor.lifetime)
        return Anchor(status, node_id, anchor.right, anchor.lifetime)

    def push_status(self) -> int:
        return fmt.RIGHT_PUSH if self.right else fmt.LEFT_PUSH

    def new_end_node(self, inward: Optional[int], value: bytes) -> Node:
        return Node(inward, None, value) if self.right else Node(None, inward, value)

    def inward(self, node: Node) -> Optional[int]:
        return node.prev if self.right else node.next

    def outward(self, node: Node) -> Optional[int]:
        return node.next if self.right else node.prev

    def set_outward(self, node: Node, node_id: int) -> None:
        if self.right:
            node.next = node_id
        else:
            node.prev = node_id


def _side_of_push(status: int) -> Optional[_Side]:
    return {fmt.RIGHT_PUSH: _Side(True), fmt.LEFT_PUSH: _Side(False)}.get(status)


class Deque:
    """A handle on the deque named ``name``; use :meth:`create`,
    :meth:`bind` or :meth:`attach`."""

    def __init__(
        self,
        store: Store,
        name: str,
        variant: str = "hardened",
        item_size_max: int = 1 << 20,
        retries_max: int = 10_000,
        backoff_us: Tuple[int, int] = (800, 25_600),
        id_seed: Optional[int] = None,
    ):
        if variant not in VARIANTS:
            raise ValueError(f"variant {variant!r} is not implemented here (only {', '.join(VARIANTS)})")
        self.store, self.name, self.variant = store, name, variant
        self.retries_max, self.backoff_us = retries_max, backoff_us
        self.rng = random.Random(id_seed)
        self.lifetime: Optional[int] = None
        self.last_missing: Optional[int] = None
        key_len = len(name) + 1 + 2 * fmt.ID_LEN
        self.value_len_max = item_size_max - (ITEM_OVERHEAD_BYTES + key_len) - fmt.NODE_OVERHEAD_BYTES_MAX

    # -- making handles ----------------------------------------------------

    @classmethod
    def attach(cls, store: Store, name: str, **options) -> "Deque":
        """A handle on a deque known to exist, without a request."""
        return cls(store, name, **options)

    @classmethod
    def create(cls, store: Store, name: str, **options) -> "Deque":
        """Creates an empty deque; :class:`AlreadyExists` if the name is taken."""
        deque = cls(store, name, **options)
        anchor = Anchor(lifetime=deque._running_lifetime())
        try:
            stored = store.add(name, fmt.encode_anchor(anchor))
        except NoReply as error:
            raise OutcomeUnknown(f"create {name}: {error}") from error
        except (NotSent, ServerRefused) as error:
            raise NoEffect(f"create {name}: {error}") from error
        if not stored:
            raise AlreadyExists(f"a deque named {name} exists")
        return deque

    @classmethod
    def bind(cls, store: Store, name: str, **options) -> "Deque":
        """Binds to an existing deque; :class:`NotFound` if there is none."""
        deque = cls(store, name, **options)
        item = deque._request("bind", store.gets, name)
        if item is None:
            raise NotFound(f"no deque named {name}")
        deque._decode_anchor(item[0])
        return deque

    # -- operations ----------------------------------------------------------

    def push_back(self, value: bytes) -> None:
        self._push(_Side(True), value)

    def push_front(self, value: bytes) -> None:
        self._push(_Side(False), value)

    def pop_back(self) -> Optional[bytes]:
        return self._pop(_Side(True))

    def pop_front(self) -> Optional[bytes]:
        return self._pop(_Side(False))

    # -- the algorithm ---------------------------------------------------------

    def _push(self, side: _Side, value: bytes) -> None:
        if len(value) > self.value_len_max:
            raise ValueTooLarge(f"a {len(value)}-byte value; at most {self.value_len_max} fit one item")
        own: Optional[int] = None
        for attempt in range(self.retries_max):
            self._back_off(attempt)
            anchor, token = self._read_anchor()
            if anchor.is_empty():
                own = self._write_own_node(own, side.new_end_node(None, value), token)
                pushed = Anchor(fmt.STABLE, own, own, anchor.lifetime)
                won = self._cas_anchor(pushed, token, linearizing=True, retry_unknown=True)
                if won:
                    return
                if won is None:
                    own = None
            elif anchor.status == fmt.STABLE:
                end = side.end(anchor)
                if end is None:
                    raise Corruption(self.name, "anchor has only one end")
                node = side.new_end_node(end, value)
                own = self._write_own_node(own, node, token)
                pushed = side.with_end(anchor, own, side.push_status())
                won = self._cas_anchor(pushed, token, linearizing=True, retry_unknown=True)
                if won is None:
                    own = None
                elif won:
                    # The push has taken effect; linking is housekeeping.
                    try:
                        self._stabilize(pushed, None, node)
                    except (NoEffect, Corruption):
                        pass
                    return
            else:
                self._stabilize(anchor, token, None)
        raise RetriesExhausted(f"push: {self.retries_max} attempts lost their race")

    def _pop(self, side: _Side) -> Optional[bytes]:
        for attempt in range(self.retries_max):
            self._back_off(attempt)
            anchor, token = self._read_anchor()
            if anchor.is_empty():
                return None
            if not anchor.is_single() and anchor.status != fmt.STABLE:
                self._stabilize(anchor, token, None)
                continue
            end = side.end(anchor)
            if end is None:
                raise Corruption(self.name, "anchor has only one end")
            loaded = self._load_node(end)
            if loaded is None:
                continue
            node, _ = loaded
            if anchor.is_single() and self.variant == "one-end-single-pop":
                # The broken copy: only the popped end is cleared.
                popped = side.with_end(anchor, None, anchor.status)
            elif anchor.is_single():
                popped = anchor.emptied()
            else:
                inner = side.inward(node)
                if inner is None:
                    self._contradiction(end, "end node of a longer deque has no inward link", token)
                    continue
                popped = side.with_end(anchor, inner, anchor.status)
            if self._cas_anchor(popped, token, linearizing=True):
                self._delete_popped(end)
                return node.value
        raise RetriesExhausted(f"pop: {self.retries_max} attempts lost their race")

    def _stabilize(self, anchor: Anchor, token: Optional[int], last: Optional[Node]) -> None:
        side = _side_of_push(anchor.status)
        if side is None:
            return
        last_id = side.end(anchor)
        if last_id is None:
            raise Corruption(self.name, "anchor has only one end")
        if last is None:
            loaded = self._load_node(last_id)
            if loaded is None:
                return
            last = loaded[0]
        pen_id = side.inward(last)
        if pen_id is None:
            self._contradiction(last_id, "pushed node has no inward link", token)
            return
        loaded = self._load_node(pen_id)
        if loaded is None:
            return
        pen, pen_token = loaded
        if side.outward(pen) != last_id:
            current, token = self._read_anchor()
            if current != anchor:
                return
            side.set_outward(pen, last_id)
            key = fmt.node_key(self.name, pen_id)
            if not self._request("link", self.store.cas, key, fmt.encode_node(pen), pen_token):
                return
        if token is None:
            current, token = self._read_anchor()
            if current != anchor:
                return
        self._cas_anchor(anchor.stable(), token, linearizing=False)

    # -- helpers -------------------------------------------------------------

    def _back_off(self, attempt: int) -> None:
        first, ceiling = self.backoff_us
        if attempt == 0 or first == 0:
            return
        bound = min(first << min(attempt - 1, 31), ceiling)
        time.sleep(self.rng.randint(0, bound) / 1e6)

    def _request(self, what: str, call, *args):
        """A request whose failure leaves the deque as it was."""
        try:
            return call(*args)
        except (NoReply, NotSent, ServerRefused) as error:
            raise NoEffect(f"{what}: {error}") from error

    def _running_lifetime(self) -> int:
        identity, mark = self._request("stats", self.store.life, self.name, self.rng.getrandbits(64))
        self.lifetime = life_stamp(identity, mark)
        return self.lifetime

    def _decode_anchor(self, data: bytes) -> Anchor:
        try:
            return fmt.decode_anchor(data)
        except FormatError as error:
            raise Corruption(self.name, f"malformed anchor: {error}") from error

    def _read_anchor(self) -> Tuple[Anchor, int]:
        item = self._request("read the anchor", self.store.gets, self.name)
        if item is None:
            raise Corruption(self.name, "the anchor is missing")
        data, token = item
        if token == 0:
            raise CasDisabled(f"the server holding {self.name} hands out CAS token 0 (memcached -C)")
        anchor = self._decode_anchor(data)
        if self.lifetime is None or self.lifetime != anchor.lifetime:
            running = self._running_lifetime()
            if anchor.lifetime != running:
                raise Corruption(
                    self.name,
                    f"the anchor was written in another server life (stamp {anchor.lifetime}, running {running})",
                )
        return anchor, token

    def _load_node(self, node_id: int) -> Optional[Tuple[Node, int]]:
        key = fmt.node_key(self.name, node_id)
        item = self._request("load a node", self.store.gets, key)
        if item is None:
            if self.last_missing == node_id:
                raise Corruption(key, "the node is missing")
            self.last_missing = node_id
            return None
        if self.last_missing == node_id:
            self.last_missing = None
        try:
            return fmt.decode_node(item[0]), item[1]
        except FormatError as error:
            raise Corruption(key, f"malformed node: {error}") from error

    def _contradiction(self, node_id: int, what: str, token: Optional[int]) -> None:
        """A broken link at ``node_id``: corruption unless the anchor moved
        since this attempt read it (a stale view, retried)."""
        _, current = self._read_anchor()
        if current == token:
            raise Corruption(fmt.node_key(self.name, node_id), what)

    def _write_own_node(self, own: Optional[int], node: Node, anchor_token: int) -> int:
        """``add``s the push's node under a fresh id mixed with the anchor
        version, drawing again while the key is taken. A retry after a lost
        race writes a new node and deletes the unpublished one."""
        if own is not None:
            self._request("drop an unpublished node", self.store.delete, fmt.node_key(self.name, own))
        value = fmt.encode_node(node)
        mix = _splitmix(anchor_token)
        for _ in range(self.retries_max):
            node_id = self.rng.getrandbits(128) ^ (mix << 64 | mix)
            if self._request("write a node", self.store.add, fmt.node_key(self.name, node_id), value):
                return node_id
        raise RetriesExhausted("every drawn node id was taken")

    def _cas_anchor(self, anchor: Anchor, token: int, linearizing: bool, retry_unknown: bool = False):
        """Whether the CAS won. A lost reply to the CAS that makes the
        operation take effect is ``OutcomeUnknown``. ``retry-unknown-cas``,
        the broken copy, takes a push's lost reply for a lost race
        (``None``: retry with a new node, although the first may have
        landed)."""
        try:
            stored = self.store.cas(self.name, fmt.encode_anchor(anchor), token)
        except NoReply as error:
            if not linearizing:
                raise NoEffect(f"mark stable: {error}") from error
            if retry_unknown and self.variant == "retry-unknown-cas":
                return None
            raise OutcomeUnknown(f"the anchor CAS got no reply: {error}") from error
        except (NotSent, ServerRefused) as error:
            raise NoEffect(f"anchor CAS: {error}") from error
        if stored is None:
            raise Corruption(self.name, "the anchor is missing")
        return stored

    def _delete_popped(self, node_id: int) -> None:
        key = fmt.node_key(self.name, node_id)
        try:
            found = self.store.delete(key)
        except (NoReply, NotSent, ServerRefused):
            return
        if not found:
            raise Corruption(key, "the popped node was gone when its pop deleted it")
