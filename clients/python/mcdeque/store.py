"""memcached through pymemcache's ASCII client, one connection per server,
keys routed by ketama over the servers' names. Every call either returns
what the server said or raises :class:`NoReply` (sent, no answer: the
request may have been applied, now or later) or :class:`NotSent` (the
connection could not be opened: nothing was applied).

ASCII ``add``/``set``/``cas`` answer without the item's new token (meta's
``ms ... c`` returns it); the deque reads tokens with ``gets`` only.
"""

import socket
import struct
from typing import Optional, Sequence, Tuple

from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheError, MemcacheServerError, MemcacheUnexpectedCloseError

from .ketama import Ring

LIFE_MARK_KEY = "memcache-collections:life"


class NoReply(Exception):
    """The request was sent (or may have been) and no reply came."""


class NotSent(Exception):
    """Nothing reached the server."""


class ServerRefused(Exception):
    """``SERVER_ERROR``: the server refused the request (too large, out of
    memory)."""


class Store:
    """``servers`` are ``(name, dial)`` pairs: route by name, connect to dial."""

    def __init__(self, servers: Sequence[Tuple[str, str]], timeout_s: float):
        self.names = [name for name, _ in servers]
        self.ring = Ring(self.names)
        self.clients = []
        for _, dial in servers:
            host, port = dial.rsplit(":", 1)
            self.clients.append(
                Client(
                    (host, int(port)),
                    connect_timeout=timeout_s,
                    timeout=timeout_s,
                    no_delay=True,
                    default_noreply=False,
                )
            )

    def server_of(self, key: str) -> int:
        return self.ring.server_for(key.encode())

    def colocated(self, a: str, b: str) -> bool:
        return self.server_of(a) == self.server_of(b)

    def _call(self, key: str, method: str, *args):
        client = self.clients[self.server_of(key)]
        connected = client.sock is not None
        try:
            if not connected:
                try:
                    client._connect()
                except OSError as error:
                    client.close()
                    raise NotSent(f"connecting for {method} {key}: {error}") from error
            return getattr(client, method)(key, *args)
        except MemcacheUnexpectedCloseError as error:
            # pymemcache files a connection closed under a request among the
            # server's errors; it is a lost reply (the harness found it: a
            # reset taken for a refusal made an anchor CAS that landed read
            # as "no effect").
            client.close()
            raise NoReply(f"{method} {key}: the connection closed: {error!r}") from error
        except MemcacheServerError as error:
            raise ServerRefused(str(error)) from error
        except (OSError, socket.timeout, MemcacheError) as error:
            client.close()
            raise NoReply(f"{method} {key}: {error!r}") from error

    def gets(self, key: str) -> Optional[Tuple[bytes, int]]:
        value, token = self._call(key, "gets")
        if value is None:
            return None
        return bytes(value), int(token)

    def add(self, key: str, value: bytes) -> bool:
        return bool(self._call(key, "add", value, 0, False))

    def set(self, key: str, value: bytes) -> None:
        self._call(key, "set", value, 0, False)

    def cas(self, key: str, value: bytes, token: int) -> Optional[bool]:
        """True stored, False changed since (``EXISTS``), None gone."""
        return self._call(key, "cas", value, token, 0, False)

    def delete(self, key: str) -> bool:
        """Whether the item was there."""
        return bool(self._call(key, "delete", False))

    def life(self, key: str, mark: int) -> Tuple[int, bytes]:
        """The identity (``pid << 40 ^ (time - uptime)``) of the server
        owning ``key`` and its life mark (``mark`` added if it has none)."""
        index = self.server_of(key)
        client = self.clients[index]
        try:
            stats = client.stats()
            identity = (int(stats[b"pid"]) << 40) ^ (int(stats[b"time"]) - int(stats[b"uptime"]))
            for _ in range(2):
                stored, _ = client.gets(LIFE_MARK_KEY)
                if stored is not None:
                    return identity, bytes(stored)
                mine = struct.pack("<Q", mark)
                if client.add(LIFE_MARK_KEY, mine, 0, False):
                    return identity, mine
        except (OSError, socket.timeout, MemcacheError, KeyError, ValueError) as error:
            client.close()
            raise NotSent(f"stats of the server owning {key}: {error!r}") from error
        raise NotSent("the life mark came and went twice")

    def close(self) -> None:
        for client in self.clients:
            client.close()
