"""A database cursor that turns server warnings into Python warnings.

Rebuilt from farcepest/MySQLdb1#108 (and python/cpython#97557): the cursor
reported each warning the server returned through ``warnings.warn``. The
warnings module remembers every (message, category, line) it has shown in the
caller's ``__warningregistry__``, so warnings whose text carries data (here the
offending bytes, as after MySQL 5.6.27) add one entry per distinct message,
forever.
"""

import logging
import warnings

logging.captureWarnings(True)
logging.getLogger("py.warnings").addHandler(logging.NullHandler())
logging.getLogger("py.warnings").propagate = False


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
            warnings.warn(w[-1], self.Warning)


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
