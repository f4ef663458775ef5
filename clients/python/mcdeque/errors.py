"""What can happen to an operation, in the Rust library's classes
(``src/deque/error.rs``): each error says whether the operation took effect.
"""


class DequeError(Exception):
    """Base class; ``kind`` is the client protocol's name for the class."""

    kind = "backend"


class Corruption(DequeError):
    """The stored structure lost an entry or holds garbage at ``key``. Never
    a silent answer: a lost entry must surface as this."""

    kind = "corruption"

    def __init__(self, key: str, detail: str):
        super().__init__(f"corruption at {key}: {detail}")
        self.key, self.detail = key, detail


class OutcomeUnknown(DequeError):
    """The request that would have completed the operation got no reply: it
    may or may not have taken effect. Never retried as a failure."""

    kind = "unknown"


class NoEffect(DequeError):
    """A request failed before the operation could take effect."""

    kind = "backend"


class RetriesExhausted(DequeError):
    """Every attempt lost a race; no effect."""

    kind = "retries_exhausted"


class ValueTooLarge(DequeError):
    """The value does not fit one memcached item; nothing was sent."""

    kind = "value_too_large"


class AlreadyExists(DequeError):
    """``create`` found the name taken; nothing changed."""

    kind = "already_exists"


class NotFound(DequeError):
    """``bind`` found no anchor under the name; nothing changed."""

    kind = "not_found"


class CasDisabled(DequeError):
    """The server runs with CAS disabled (``memcached -C``): its tokens are
    all 0 and every compare-and-set fails."""

    kind = "cas_disabled"
