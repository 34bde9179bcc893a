"""Fixed: the recent requests are kept in a bounded deque, not a list that grows forever.

Old requests fall off the end; memory stays flat however many requests come.

    python -m memlens.examples.fixed_module_list
"""
import collections

from memlens.examples._harness import run_example


class Request:
    def __init__(self, path, headers):
        self.path = path
        self.headers = headers


_recent_requests = collections.deque(maxlen=100)  # the fix: bounded


def handle_request(path, headers):
    request = Request(path, headers)
    _recent_requests.append(request)
    return len(request.path)


def work(n):
    """One unit of work: handle one request."""
    handle_request("/items/%d" % n, {"user-agent": "demo", "request-id": "req-%d" % n})


if __name__ == "__main__":
    run_example(work)
