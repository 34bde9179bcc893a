"""The same connections, registered with atexit weakly and unregistered on close.

As ARM-software/devlib#676 proposes: atexit gets a callable that holds only a
weak reference to the connection, and ``close()`` calls ``atexit.unregister``.
"""

import atexit
import functools
import itertools
import weakref


def _close_at_exit(connection_ref):
    connection = connection_ref()
    if connection is not None:
        connection.close()


class SshConnection:
    default_timeout = 10

    def __init__(self, host, username, password=None, port=22):
        self.host = host
        self.username = username
        self.port = port
        self.connected = True
        self._history = []
        self._buffer = bytearray(4096)
        self._atexit_close = functools.partial(_close_at_exit, weakref.ref(self))
        atexit.register(self._atexit_close)

    def execute(self, command):
        self._history.append(command)
        out = ("%s@%s$ %s\n" % (self.username, self.host, command)).encode()
        self._buffer[: len(out)] = out
        return out

    def close(self):
        self.connected = False
        atexit.unregister(self._atexit_close)


_jobs = itertools.count()


def request(i):
    """One job on a test target: connect, run a command, close."""
    n = next(_jobs)
    conn = SshConnection("10.0.%d.%d" % (n // 250 % 250, n % 250), "root")
    out = conn.execute("cat /proc/cpuinfo | grep -c processor")
    conn.close()
    return len(out)


def main(requests=1500):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    print(f"ran jobs; atexit callbacks registered: {atexit._ncallbacks()}")
