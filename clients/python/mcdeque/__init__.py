"""A lock-free deque in memcached, sharing one format with the Rust
memcache-collections library (see ``clients/python/README.md``)."""

from .deque import Deque
from .errors import (
    AlreadyExists,
    CasDisabled,
    Corruption,
    DequeError,
    NoEffect,
    NotFound,
    OutcomeUnknown,
    RetriesExhausted,
    ValueTooLarge,
)
from .store import Store

__all__ = [
    "AlreadyExists",
    "CasDisabled",
    "Corruption",
    "Deque",
    "DequeError",
    "NoEffect",
    "NotFound",
    "OutcomeUnknown",
    "RetriesExhausted",
    "Store",
    "ValueTooLarge",
]
