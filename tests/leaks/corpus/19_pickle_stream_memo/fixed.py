"""The same replication log clearing the Pickler's memo after each message.

python/cpython#125762 documents ``Pickler.clear_memo()`` for exactly this:
picklers reused for several messages must forget what they wrote.
"""

import itertools
import pickle


class Socket:
    """The replica connection: bytes are sent and forgotten."""

    def __init__(self):
        self.sent = 0

    def write(self, data):
        self.sent += len(data)
        return len(data)


class Event:
    def __init__(self, seq, table, row):
        self.seq = seq
        self.table = table
        self.row = row


class ReplicationLog:
    def __init__(self, sock):
        self._sock = sock
        self._pickler = pickle.Pickler(sock, protocol=pickle.HIGHEST_PROTOCOL)

    def append(self, event):
        self._pickler.dump(event)
        self._pickler.clear_memo()


log = ReplicationLog(Socket())
_seq = itertools.count()


def request(i):
    """One write transaction, replicated as an event."""
    n = next(_seq)
    row = {"id": n, "name": "customer-%d" % n, "tags": ["a", "b"], "balance": n * 0.5}
    log.append(Event(n, "customers", row))
    return n


def main(requests=5000):
    for i in range(requests):
        request(i)
    return log._sock.sent


if __name__ == "__main__":
    sent = main()
    print(f"replicated events ({sent} bytes sent); objects in the pickler memo: {len(log._pickler.memo.copy())}")
