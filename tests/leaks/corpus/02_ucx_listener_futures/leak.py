"""A transfer worker that keeps every listener future it ever started.

Rebuilt from rapidsai/ucx-py#110: ``start_listener`` appended each new
``ListenerFuture`` to the module-level list ``listener_futures`` "to avoid
garbage collection", and nothing ever removed it, so a process that opened a
listener per transfer kept every one (with its callback, port and buffers).
"""

import itertools

listener_futures = []


class Listener:
    def __init__(self, port):
        self.port = port
        self.listener_ptr = object()


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
        lf.listener = listener
        lf.port = port
        listener_futures.append(lf)  # hold a reference to avoid garbage collection
    return listener


def stop_listener(listener):
    listener.listener_ptr = None


def handle_transfer(endpoint, buffer):
    buffer[: len(endpoint)] = endpoint
    return len(endpoint)


def request(i):
    """One transfer: an ephemeral listener, one client, then the listener stops."""
    listener = start_listener(handle_transfer)
    received = listener_futures[-1].on_connect(b"endpoint-%d" % i)
    stop_listener(listener)
    return received


def main(requests=2000):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    total = main()
    print(f"served transfers ({total} bytes); listener futures still held: {len(listener_futures)}")
