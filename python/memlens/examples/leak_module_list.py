"""Leak: a module-level list appended to in a function.

Every request is kept in a module-level list "for debugging", and nothing
ever removes it: the list is a module global, alive as long as the module,
so every Request ever handled stays alive with it.

The fix (``fixed_module_list.py``): keep a bounded window instead.

    python -m memlens.examples.leak_module_list
"""
from memlens.examples._harness import run_example


class Request:
    def __init__(self, path, headers):
        self.path = path
        self.headers = headers


_recent_requests = []


def handle_request(path, headers):
    request = Request(path, headers)
    _recent_requests.append(request)  # the leak: appended on every call, never removed
    return len(request.path)


def work(n):
    """One unit of work: handle one request."""
    handle_request("/items/%d" % n, {"user-agent": "demo", "request-id": "req-%d" % n})


if __name__ == "__main__":
    run_example(work)
