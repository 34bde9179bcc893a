"""A protocol that throws one shared exception instance into every reader generator.

Rebuilt from python/cpython#105795 (from twisted/twisted#11874): an exception
object thrown into generators with ``generator.throw()`` over and over keeps a
traceback entry for every generator frame it went through, so a long-lived
exception used as a signal ("connection done") grows without bound and keeps
each of those frames, with their locals, alive.
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
    connection_done = ConnectionDone("Connection was closed cleanly.")  # one instance for all

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
            self._reader.throw(self.connection_done)
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
    tb, depth = Protocol.connection_done.__traceback__, 0
    while tb is not None:
        tb, depth = tb.tb_next, depth + 1
    print(f"served requests; entries in the shared exception's traceback: {depth}")
