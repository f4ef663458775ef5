"""How the store classifies a request that got no reply: the harness found
that pymemcache raises a connection closed under a request as a server
error (``MemcacheUnexpectedCloseError`` is a ``MemcacheServerError``), which
this client first took for a refusal (no effect) and lost values silently
(FINDINGS.md, finding 8)."""

import socket
import threading
import unittest

from mcdeque import OutcomeUnknown
from mcdeque.deque import Deque
from mcdeque.format import Anchor
from mcdeque.store import NoReply, NotSent, Store


def closing_server():
    """A listener that reads one request per connection and closes it
    unanswered, as a reset or a crashed server does."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.recv(4096)
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener


class StoreTest(unittest.TestCase):
    def test_a_connection_closed_under_a_request_is_no_reply(self):
        listener = closing_server()
        self.addCleanup(listener.close)
        address = "127.0.0.1:%d" % listener.getsockname()[1]
        store = Store([(address, address)], timeout_s=1.0)
        with self.assertRaises(NoReply):
            store.cas("q", b"x", 5)
        with self.assertRaises(NoReply):
            store.gets("q")

    def test_an_anchor_cas_without_a_reply_is_an_unknown_outcome(self):
        listener = closing_server()
        self.addCleanup(listener.close)
        address = "127.0.0.1:%d" % listener.getsockname()[1]
        deque = Deque.attach(Store([(address, address)], timeout_s=1.0), "q")
        with self.assertRaises(OutcomeUnknown):
            deque._cas_anchor(Anchor(), 5, linearizing=True)

    def test_a_server_nobody_listens_on_gets_nothing_sent(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            address = "127.0.0.1:%d" % probe.getsockname()[1]
        with self.assertRaises(NotSent):
            Store([(address, address)], timeout_s=0.5).gets("q")


if __name__ == "__main__":
    unittest.main()
