"""SSH connections that register their own close() with atexit.

Rebuilt from ARM-software/devlib#676: ``SshConnection.__init__`` did
``atexit.register(self.close)``. The interpreter keeps atexit callbacks in a C
array until exit, so each bound method keeps its connection (sockets, buffers,
command history) alive for the life of the process, whether or not the
connection was closed long ago. DataDog's tracer had the same leak
(DataDog/dd-trace-py#2409: "a million tracers kept around to be shutdown at exit").
"""

import atexit
import itertools


class SshConnection:
    default_timeout = 10

    def __init__(self, host, username, password=None, port=22):
        self.host = host
        self.username = username
        self.port = port
        self.connected = True
        self._history = []
        self._buffer = bytearray(4096)
        atexit.register(self.close)

    def execute(self, command):
        self._history.append(command)
        out = ("%s@%s$ %s\n" % (self.username, self.host, command)).encode()
        self._buffer[: len(out)] = out
        return out

    def close(self):
        self.connected = False


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
