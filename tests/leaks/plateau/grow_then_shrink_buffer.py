"""A read buffer that grows for a large message, then is emptied.

Each request reads a message in chunks into a connection's bytearray (up to
256 KiB for the large ones), parses it, and clears the buffer, which returns
its memory. The connection lives on; its buffer does not keep the peak.
"""

import itertools


class Connection:
    def __init__(self):
        self.buffer = bytearray()

    def read_message(self, size):
        chunk = b"\x17" * 4096
        while len(self.buffer) < size:
            self.buffer += chunk
        message = bytes(self.buffer[:16])
        del self.buffer[:]  # shrink back: the bytes are released
        return message


conn = Connection()
_ids = itertools.count()


def request(i):
    n = next(_ids)
    return len(conn.read_message(256 * 1024 if n % 10 == 0 else 8 * 1024))


def main(requests=3000):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    print(f"read messages; buffer now {len(conn.buffer)} bytes")
