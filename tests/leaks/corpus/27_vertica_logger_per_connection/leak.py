"""A database driver that creates a uniquely named logger for every connection.

Rebuilt from vertica/vertica-python#476: ``Connection.__init__`` built
``logger_name = 'vertica_{0}_{1}'.format(id(self), str(uuid.uuid4()))`` and
called ``logging.getLogger(logger_name)``. The logging manager keeps every
logger it ever created in ``logging.Logger.manager.loggerDict``, so each new
connection added one Logger that was never released; long-lived processes
opening many connections grew steadily.
"""

import itertools
import logging
import uuid


class Connection:
    def __init__(self, options):
        self.options = options
        logger_name = "vertica_{0}_{1}".format(id(self), str(uuid.uuid4()))  # must be a unique value
        self._logger = logging.getLogger(logger_name)
        self._logger.setLevel(options.get("log_level", logging.WARNING))
        self._logger.propagate = False
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
