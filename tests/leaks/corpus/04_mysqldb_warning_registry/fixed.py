"""The same cursor, logging server warnings instead of warning about each text.

The report (farcepest/MySQLdb1#108) asked for the warning mechanism to be made
configurable; the canonical fix is to send messages with data in them to logging,
which keeps no registry, with the data as arguments of a constant message.
"""

import logging

log = logging.getLogger("MySQLdb.cursors")
log.addHandler(logging.NullHandler())
log.propagate = False


class Warning(UserWarning):
    """What the driver raises for server-side warnings."""


class Connection:
    """Stands in for the server: it answers SHOW WARNINGS for the last statement."""

    def __init__(self):
        self._warnings = []

    def query(self, sql, params):
        uuid = params[0]
        if any(b >= 0x80 for b in uuid):
            self._warnings = [("Warning", 1300, "Invalid utf8mb4 character string: '%s'" % uuid[:3].hex().upper() + uuid.hex())]
        else:
            self._warnings = []
        return [(uuid, "row")]

    def show_warnings(self):
        return self._warnings


class Cursor:
    Warning = Warning

    def __init__(self, connection):
        self.connection = connection

    def execute(self, sql, params):
        rows = self.connection.query(sql, params)
        self._warning_check()
        return rows

    def _warning_check(self):
        for w in self.connection.show_warnings():
            log.warning("server warning %s: %s", w[1], w[-1])


cursor = Cursor(Connection())


def request(i):
    """Look up one row by its binary uuid column."""
    uuid = bytes([0x00, 0xBE, 0x17, 0xAE]) + i.to_bytes(12, "big")
    return cursor.execute("select * from FOOBAR where uuid=%s limit 1", (uuid,))


_next = [0]


def main(requests=10000):
    rows = None
    for _ in range(requests):
        rows = request(_next[0])
        _next[0] += 1
    return rows


if __name__ == "__main__":
    main()
    print(f"ran queries; warnings remembered: {len(globals().get('__warningregistry__', {}))}")
