"""The same worker, with listener futures dropped when their listener stops.

The review of rapidsai/ucx-py#110 asked for a set (O(1) removal) and for the
reference to go away with the listener; this twin does both.
"""

import itertools

listener_futures = set()


class Listener:
    def __init__(self, port):
        self.port = port
        self.listener_ptr = object()
        self.future = None


class ListenerFuture:
    """What the C side calls back into when a client connects."""

    def __init__(self, callback, is_coroutine):
        self.callback = callback
        self.is_coroutine = is_coroutine
        self.listener = None
        self.port = None
        self.recv_buffer = bytearray(2048)

    def on_connect(self, endpoint):
        return self.callback(endpoint, self.recv_buffer)


_ports = itertools.count(13337)


def start_listener(py_func, listener_port=-1, is_coroutine=False):
    lf = ListenerFuture(py_func, is_coroutine)
    port = next(_ports) if listener_port == -1 else listener_port
    listener = Listener(port)
    if listener.listener_ptr is not None:
        lf.port = port
        listener.future = lf
        listener_futures.add(lf)  # held while the listener runs
    return listener


def stop_listener(listener):
    listener.listener_ptr = None
    listener_futures.discard(listener.future)
    listener.future = None


def handle_transfer(endpoint, buffer):
    buffer[: len(endpoint)] = endpoint
    return len(endpoint)


def request(i):
    """One transfer: an ephemeral listener, one client, then the listener stops."""
    listener = start_listener(handle_transfer)
    received = listener.future.on_connect(b"endpoint-%d" % i)
    stop_listener(listener)
    return received


def main(requests=2000):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    total = main()
    print(f"served transfers ({total} bytes); listener futures still held: {len(listener_futures)}")
