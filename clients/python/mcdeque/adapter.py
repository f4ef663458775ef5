"""The client protocol (``docs/client-protocol.md``) on this library: run
``python3 -m mcdeque.adapter`` as ``mcsim run --backend real --client-cmd``.
Reads one JSON message per line on standard input, answers each on standard
output; exits when standard input ends.
"""

import json
import sys

from .deque import VARIANTS, Deque
from .errors import Corruption, DequeError
from .store import Store


def result_of(error: DequeError) -> dict:
    """A deque error as the history format's result."""
    if isinstance(error, Corruption):
        return {"type": "corruption", "key": error.key, "detail": error.detail}
    if error.kind == "unknown":
        return {"type": "unknown"}
    return {"type": "failed", "error": error.kind}


class Adapter:
    def __init__(self, init: dict):
        if init["variant"] not in VARIANTS:
            raise ValueError(f"variant {init['variant']!r} is not implemented by mcdeque (only {', '.join(VARIANTS)})")
        servers = [(server["name"], server["dial"]) for server in init["servers"]]
        self.store = Store(servers, timeout_s=init["timeout_us"] / 1e6)
        self.name = init["deque"]
        self.options = dict(
            variant=init["variant"],
            item_size_max=init["item_size_max_bytes"],
            retries_max=init["retries_max"],
            backoff_us=(init["backoff_first_us"], init["backoff_max_us"]),
            id_seed=init["id_seed"],
        )
        self.deque = Deque.attach(self.store, self.name, **self.options)

    def run(self, op: str, value):
        try:
            if op in ("push_back", "push_front"):
                getattr(self.deque, op)(value.encode("latin-1"))
                return {"type": "ok"}
            if op in ("pop_back", "pop_front"):
                popped = getattr(self.deque, op)()
                if popped is None:
                    return {"type": "empty"}
                return {"type": "value", "value": popped.decode("latin-1")}
            if op in ("create", "bind"):
                self.deque = getattr(Deque, op)(self.store, self.name, **self.options)
                return {"type": "ok"}
        except DequeError as error:
            return result_of(error)
        raise ValueError(f"unknown op {op!r}")


def main() -> int:
    def answer(message: dict) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    first = sys.stdin.readline()
    if not first:
        return 0
    try:
        adapter = Adapter(json.loads(first))
    except (ValueError, KeyError) as error:
        answer({"type": "init_failed", "reason": str(error)})
        return 0
    answer({"type": "init_ok"})
    for line in sys.stdin:
        message = json.loads(line)
        answer({"type": "result", "id": message["id"], "result": adapter.run(message["op"], message.get("value"))})
    return 0


if __name__ == "__main__":
    sys.exit(main())
