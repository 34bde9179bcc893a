"""A query log bounded with deque(maxlen=...), as Django's since 1.8.

Each request records its SQL statements in the connection's ``queries_log``;
the deque keeps the last 2,000 and drops the oldest, so once full the log
stays the same size (django/django#2772 made ``connection.queries`` bounded).
"""

import collections
import itertools


class DatabaseWrapper:
    queries_limit = 2000

    def __init__(self):
        self.queries_log = collections.deque(maxlen=self.queries_limit)

    def execute(self, sql):
        self.queries_log.append({"sql": sql, "time": "0.000"})


connection = DatabaseWrapper()
_ids = itertools.count()


def request(i):
    n = next(_ids)
    for table in ("netbox", "interface", "vlan"):
        connection.execute("SELECT * FROM %s WHERE id = %d" % (table, n))
    return len(connection.queries_log)


def main(requests=20000):
    return max(request(i) for i in range(requests))


if __name__ == "__main__":
    print(f"served requests; queries logged: {main()}")
