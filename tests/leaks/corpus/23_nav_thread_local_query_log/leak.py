"""Worker threads whose thread-local database connections log every query.

Rebuilt from Uninett/nav#97 (and django/django#2772): with ``DEBUG = True``
Django's connection object records every SQL statement in ``queries``, and
connections are per thread (``threading.local``). ipdevpoll runs ~10 long-lived
worker threads for database access; each thread's query log grew forever, and
from the main thread it could not even be seen, since each thread has its own.
Before Django 1.8 that log had no bound.
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
executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ipdevpoll-db")


def save_poll_result(netbox_id, interfaces):
    """What a poll job does in a database worker thread."""
    db = connections["default"]
    db.execute("UPDATE netbox SET up = 'y', last_updated = now() WHERE netboxid = %s", (netbox_id,))
    for ifindex in interfaces:
        db.execute("UPDATE interface SET ifoperstatus = 1 WHERE netboxid = %s AND ifindex = %%d" % ifindex, (netbox_id,))
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
