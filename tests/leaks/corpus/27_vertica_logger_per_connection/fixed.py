"""The same driver with one module logger, the connection told apart in the records.

As vertica/vertica-python#476 proposes: the Connection class uses the same
Logger every time, and what is per connection goes into the log records (a
LoggerAdapter adds the connection id).
"""

import itertools
import logging
import uuid


_log = logging.getLogger("vertica")
_log.setLevel(logging.WARNING)
_log.propagate = False


class Connection:
    def __init__(self, options):
        self.options = options
        self._logger = logging.LoggerAdapter(_log, {"connection": str(uuid.uuid4())})
        self.closed = False

    def cursor(self):
        return Cursor(self)

    def close(self):
        self._logger.info("Connection is closed")
        self.closed = True


class Cursor:
    def __init__(self, connection):
        self.connection = connection

    def execute(self, sql):
        self.connection._logger.debug("Execute: %s", sql)
        return [(1,)]


_queries = itertools.count()


def request(i):
    """One unit of work: connect, run a query, disconnect."""
    conn = Connection({"host": "vertica.internal", "port": 5433, "user": "dbadmin"})
    rows = conn.cursor().execute("SELECT %d" % next(_queries))
    conn.close()
    return len(rows)


def main(requests=3000):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    count = sum(1 for name in logging.Logger.manager.loggerDict if name.startswith("vertica_"))
    print(f"ran queries; per-connection loggers in the logging manager: {count}")
