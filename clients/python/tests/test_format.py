"""The byte format and routing, against the layout of ``src/format.rs`` and
libmemcached's own ketama vectors (``tests/data/ketama_vectors.txt``)."""

import pathlib
import unittest

from mcdeque import format as fmt
from mcdeque.deque import life_stamp
from mcdeque.ketama import Ring

VECTORS = pathlib.Path(__file__).resolve().parents[3] / "tests" / "data" / "ketama_vectors.txt"


class FormatTest(unittest.TestCase):
    def test_an_anchor_is_laid_out_as_documented(self):
        anchor = fmt.Anchor(fmt.RIGHT_PUSH, left=1, right=2, lifetime=0x0102030405060708)
        data = fmt.encode_anchor(anchor)
        self.assertEqual(data[:5], bytes([0xD9, 1, ord("A"), 1, 0b111]))
        self.assertEqual(data[5:21], (1).to_bytes(16, "big"))
        self.assertEqual(data[21:37], (2).to_bytes(16, "big"))
        self.assertEqual(data[37:], bytes(range(1, 9)))
        self.assertEqual(fmt.decode_anchor(data), anchor)
        self.assertEqual(fmt.encode_anchor(fmt.Anchor()), bytes([0xD9, 1, ord("A"), 0, 0]))

    def test_a_node_carries_its_links_then_its_value(self):
        node = fmt.Node(prev=None, next=7, value=b"hello")
        data = fmt.encode_node(node)
        self.assertEqual(data[:4], bytes([0xD9, 1, ord("N"), 0b10]))
        self.assertEqual(data[4:20], (7).to_bytes(16, "big"))
        self.assertEqual(data[20:], b"hello")
        self.assertEqual(fmt.decode_node(data), node)

    def test_anything_but_an_entry_is_refused(self):
        anchor = fmt.encode_anchor(fmt.Anchor(left=1, right=1))
        for bad in [b"", b"\xd8\x01A\x00\x00", b"\xd9\x02A\x00\x00", b"\xd9\x01N\x00\x00", b"\xd9\x01A\x03\x00",
                    b"\xd9\x01A\x00\x08", anchor[:-1], anchor + b"x"]:
            with self.assertRaises(fmt.FormatError, msg=bad):
                fmt.decode_anchor(bad)
        with self.assertRaises(fmt.FormatError):
            fmt.decode_node(b"\xd9\x01N\x04")

    def test_node_keys_are_the_name_and_32_hex_digits(self):
        self.assertEqual(fmt.node_key("q", 0xAB), "q:" + "0" * 30 + "ab")

    def test_the_life_stamp_spreads_the_mark_over_the_identity(self):
        # Equal stamps, same life; a restart changes the mark, so the stamp.
        self.assertEqual(life_stamp(5, b"\x01" * 8), life_stamp(5, b"\x01" * 8))
        self.assertNotEqual(life_stamp(5, b"\x01" * 8), life_stamp(5, b"\x02" + b"\x01" * 7))
        self.assertNotEqual(life_stamp(5, b"\x01" * 8), life_stamp(6, b"\x01" * 8))


class KetamaTest(unittest.TestCase):
    def test_keys_land_where_libmemcached_puts_them(self):
        checked = 0
        ring = None
        for line in VECTORS.read_text().splitlines():
            if line.startswith("servers "):
                specs = [spec.rsplit(":", 1) for spec in line.split(" ", 1)[1].split(",")]
                ring = Ring([name for name, _ in specs], [int(weight) for _, weight in specs])
            elif line.strip():
                key, server = line.split()
                self.assertEqual(ring.server_for(key.encode()), int(server), line)
                checked += 1
        self.assertGreater(checked, 500)


if __name__ == "__main__":
    unittest.main()
