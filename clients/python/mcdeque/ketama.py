"""libmemcached's ketama ring (``src/routing/ketama.rs``): the routing every
client of one deque on several servers must share. Servers are named
``host:port``; 160 points per server of equal weight, four per MD5 digest.
"""

import bisect
import hashlib
from typing import List, Sequence, Tuple

POINTS_PER_SERVER = 160
POINTS_PER_DIGEST = 4
DEFAULT_PORT = 11211


class Ring:
    """Maps a key to the index of its server in ``names``."""

    def __init__(self, names: Sequence[str], weights: Sequence[int] = ()):
        weights = list(weights) or [1] * len(names)
        total = sum(weights)
        points: List[Tuple[int, int]] = []
        for index, (name, weight) in enumerate(zip(names, weights)):
            host, port = name.rsplit(":", 1)
            share = weight / total
            per_digest = int(share * POINTS_PER_SERVER / POINTS_PER_DIGEST * len(names) + 1e-10)
            for digest_index in range(per_digest):
                label = f"{host}-{digest_index}" if int(port) == DEFAULT_PORT else f"{host}:{port}-{digest_index}"
                digest = hashlib.md5(label.encode()).digest()
                for word in range(4):
                    points.append((int.from_bytes(digest[4 * word : 4 * word + 4], "little"), index))
        points.sort()
        self.points = points
        self.hashes = [point for point, _ in points]
        self.count = len(names)

    def server_for(self, key: bytes) -> int:
        if self.count == 1:
            return 0
        hashed = int.from_bytes(hashlib.md5(key).digest()[:4], "little")
        position = bisect.bisect_left(self.hashes, hashed)
        return self.points[position % len(self.points)][1]
