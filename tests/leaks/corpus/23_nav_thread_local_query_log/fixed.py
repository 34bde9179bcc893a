"""The same workers, resetting their thread's query log after each job.

Uninett/nav#97 added a cleanup run in each database thread (Django's
``reset_queries()``); not logging queries outside development is the other fix.
"""

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

DEBUG = True


class DatabaseWrapper:
    def __init__(self, alias):
        self.alias = alias
        self.queries = []

    def execute(self, sql, params):
        start = time.perf_counter()
        result = [(params[0], "up")]  # what the database returns
        if DEBUG:
            self.queries.append({"sql": sql % params, "time": "%.3f" % (time.perf_counter() - start)})
        return result


class ConnectionHandler:
    def __init__(self):
        self._connections = threading.local()

    def __getitem__(self, alias):
        if hasattr(self._connections, alias):
            return getattr(self._connections, alias)
        conn = DatabaseWrapper(alias)
        setattr(self._connections, alias, conn)
        return conn


connections = ConnectionHandler()


def reset_queries():
    connections["default"].queries = []
executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ipdevpoll-db")


def save_poll_result(netbox_id, interfaces):
    """What a poll job does in a database worker thread."""
    db = connections["default"]
    db.execute("UPDATE netbox SET up = 'y', last_updated = now() WHERE netboxid = %s", (netbox_id,))
    for ifindex in interfaces:
        db.execute("UPDATE interface SET ifoperstatus = 1 WHERE netboxid = %s AND ifindex = %%d" % ifindex, (netbox_id,))
    reset_queries()
    return len(interfaces)


_netboxes = itertools.count(1)


def request(i):
    """One poll of one netbox, saved from a database worker thread."""
    return executor.submit(save_poll_result, next(_netboxes), range(1, 5))


def main(requests=2000):
    futures = [request(i) for i in range(requests)]
    return sum(f.result() for f in futures)


if __name__ == "__main__":
    main()
    counts = executor.submit(lambda: len(connections["default"].queries)).result()
    print(f"saved polls; queries logged by one worker thread's connection: {counts}")
