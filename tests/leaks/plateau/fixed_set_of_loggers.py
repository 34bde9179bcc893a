"""Loggers from a fixed set of names: the logging manager's registry stops growing.

Each request logs through ``getLogger("app.worker.N")`` for one of 16 worker
names. The manager creates each logger (and the ``app``/``app.worker``
placeholders) the first time and returns the same object afterwards.
"""

import itertools
import logging

logging.getLogger("app").addHandler(logging.NullHandler())
logging.getLogger("app").propagate = False
_ids = itertools.count()


def request(i):
    n = next(_ids)
    log = logging.getLogger("app.worker.%d" % (n % 16))
    log.debug("job %d done", n)
    return log.name


def main(requests=20000):
    return len({request(i) for i in range(requests)})


if __name__ == "__main__":
    main()
    count = sum(1 for name in logging.Logger.manager.loggerDict if name.startswith("app"))
    print(f"ran jobs; loggers named app*: {count}")
