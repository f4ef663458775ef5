"""The deque on a memcached this test starts on a free loopback port: its
answers, its refusals, and every lost entry reported as corruption."""

import os
import shutil
import socket
import subprocess
import time
import unittest

from mcdeque import AlreadyExists, Corruption, Deque, NotFound, Store, ValueTooLarge
from mcdeque import format as fmt


class Memcached:
    """A private memcached process; ``restart`` kills it and starts it again
    on the same port (a new server life)."""

    def __init__(self):
        if shutil.which("memcached") is None:
            raise RuntimeError("memcached is not installed (bash scripts/test.sh installs it)")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = None
        self.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self):
        user = ["-u", "root"] if os.geteuid() == 0 else []
        self.process = subprocess.Popen(["memcached", "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", *user])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"memcached did not listen on {self.address}")

    def restart(self):
        self.stop()
        self.start()

    def stop(self):
        self.process.kill()
        self.process.wait()


class DequeTest(unittest.TestCase):
    def setUp(self):
        self.server = Memcached()
        self.addCleanup(self.server.stop)
        self.store = Store([(self.server.address, self.server.address)], timeout_s=1.0)
        self.addCleanup(self.store.close)

    def test_both_ends_keep_their_order(self):
        deque = Deque.create(self.store, "q", id_seed=1)
        for value in (b"1", b"2", b"3"):
            deque.push_back(value)
        deque.push_front(b"0")
        self.assertEqual(deque.pop_front(), b"0")
        self.assertEqual(deque.pop_back(), b"3")
        other = Deque.bind(self.store, "q", id_seed=2)
        self.assertEqual(other.pop_front(), b"1")
        self.assertEqual(deque.pop_front(), b"2")
        self.assertIsNone(deque.pop_back())

    def test_names_and_sizes_are_refused_with_the_reason(self):
        Deque.create(self.store, "q")
        with self.assertRaises(AlreadyExists):
            Deque.create(self.store, "q")
        with self.assertRaises(NotFound):
            Deque.bind(self.store, "nothing")
        deque = Deque.bind(self.store, "q")
        deque.push_back(b"x" * deque.value_len_max)
        with self.assertRaises(ValueTooLarge):
            deque.push_back(b"x" * (deque.value_len_max + 1))
        self.assertEqual(len(deque.pop_front()), deque.value_len_max)

    def test_a_lost_node_is_reported_not_skipped(self):
        deque = Deque.create(self.store, "q", id_seed=3)
        for value in (b"a", b"b", b"c"):
            deque.push_back(value)
        anchor = fmt.decode_anchor(self.store.gets("q")[0])
        self.store.delete(fmt.node_key("q", anchor.left))
        with self.assertRaises(Corruption) as caught:
            deque.pop_front()
            deque.pop_front()
        self.assertIn(f"{anchor.left:032x}", caught.exception.key)

    def test_a_lost_anchor_is_reported(self):
        deque = Deque.create(self.store, "q")
        deque.push_back(b"a")
        self.store.delete("q")
        with self.assertRaises(Corruption) as caught:
            deque.pop_back()
        self.assertEqual(caught.exception.key, "q")

    def test_a_restart_under_a_re_created_deque_is_reported(self):
        deque = Deque.create(self.store, "q")
        deque.push_back(b"a")
        self.server.restart()
        with self.assertRaises(Exception):
            deque.pop_back()  # the anchor is gone, or the connection was
        Deque.create(self.store, "q")
        deque.push_back(b"b")
        # A stale stamp: an anchor written in the old life is refused.
        stale = fmt.Anchor(lifetime=1)
        token = self.store.gets("q")[1]
        self.assertTrue(self.store.cas("q", fmt.encode_anchor(stale), token))
        with self.assertRaises(Corruption) as caught:
            Deque.bind(self.store, "q").pop_front()
        self.assertIn("another server life", caught.exception.detail)


if __name__ == "__main__":
    unittest.main()
