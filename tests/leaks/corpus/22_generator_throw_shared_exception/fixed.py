"""The same protocol throwing a fresh exception into each reader.

As the CPython maintainers answered in python/cpython#105795: an exception
instance that is reused must not carry its old traceback; the simplest is a new
instance per throw (or ``exc.with_traceback(None)`` before throwing it again).
"""

import itertools


class ConnectionDone(Exception):
    pass


class Request:
    def __init__(self, method, path):
        self.method = method
        self.path = path
        self.headers = {"host": "example.org", "accept": "*/*"}
        self.closed = False


def read_response(request):
    """Collects the body until the connection ends (the end is signalled by a throw)."""
    body = bytearray()
    try:
        while True:
            body += yield
    except ConnectionDone:
        request.closed = True
        request.body_length = len(body)


class Protocol:
    connection_done_message = "Connection was closed cleanly."

    def __init__(self):
        self._reader = None

    def make_request(self, request):
        request.transport = self
        self._reader = read_response(request)
        next(self._reader)

    def data_received(self, data):
        self._reader.send(data)

    def connection_lost(self):
        try:
            self._reader.throw(ConnectionDone(self.connection_done_message))
        except StopIteration:
            pass
        self._reader = None


_ids = itertools.count()


def request(i):
    """One HTTP/1.0 exchange: the server closes the connection to end the body."""
    protocol = Protocol()
    req = Request("GET", "/object/%d" % next(_ids))
    protocol.make_request(req)
    for chunk in (b"x" * 512, b"y" * 512):
        protocol.data_received(chunk)
    protocol.connection_lost()
    return req.body_length


def main(requests=3000):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    print("served requests; no exception outlives its request")
