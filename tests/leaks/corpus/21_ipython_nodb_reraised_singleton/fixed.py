"""The same stub raising a new exception each time (ipython/ipython#8017).

Only the message is module-level; every query gets a fresh KeyError, whose
traceback dies with it once the handler is done.
"""

import itertools

NODATA_MSG = (
    "NoDB backend doesn't store any data. Start the Controller with a DB backend "
    "to enable resubmission / result persistence."
)


class NoDB:
    def add_record(self, msg_id, record):
        pass

    def get_record(self, msg_id):
        raise KeyError(NODATA_MSG)

    def find_records(self, check, keys=None):
        raise KeyError(NODATA_MSG)


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
    return 0


if __name__ == "__main__":
    depth = main()
    print(f"answered result requests; exceptions kept: {depth}")
