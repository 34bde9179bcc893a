"""A controller database stub that raises one module-level exception object.

Rebuilt from ipython/ipython#8017: IPython.parallel's ``NoDB`` backend answered
record queries by raising ``NODATA``, a single KeyError instance created at
import. On Python 3 an exception keeps its traceback, and raising the same
instance again prepends the new frames to it, so the controller's memory grew
with every client query: each query's handler frames, and their locals, were
chained onto ``NODATA.__traceback__``.
"""

import itertools

NODATA = KeyError(
    "NoDB backend doesn't store any data. Start the Controller with a DB backend "
    "to enable resubmission / result persistence."
)


class NoDB:
    def add_record(self, msg_id, record):
        pass

    def get_record(self, msg_id):
        raise NODATA

    def find_records(self, check, keys=None):
        raise NODATA


class Message:
    """A client request as the Hub's session unpacks it."""

    def __init__(self, msg_id, msg_type, content):
        self.msg_id = msg_id
        self.msg_type = msg_type
        self.content = content
        self.buffers = [b"\0" * 256, b"\1" * 256]


class Hub:
    def __init__(self, db):
        self.db = db

    def get_results(self, msg):
        try:
            records = [self.db.get_record(msg_id) for msg_id in msg.content["msg_ids"]]
        except Exception as exc:
            return {"status": "error", "ename": type(exc).__name__, "evalue": str(exc)}
        return {"status": "ok", "records": records}


hub = Hub(NoDB())
_ids = itertools.count()


def request(i):
    """One client asks the Hub for results it thinks were stored."""
    n = next(_ids)
    msg = Message("msg-%d" % n, "result_request", {"msg_ids": ["task-%d" % n], "status_only": False})
    return hub.get_results(msg)["status"]


def main(requests=3000):
    for i in range(requests):
        request(i)
    tb, depth = NODATA.__traceback__, 0
    while tb is not None:
        tb, depth = tb.tb_next, depth + 1
    return depth


if __name__ == "__main__":
    depth = main()
    print(f"answered result requests; entries in NODATA's traceback: {depth}")
