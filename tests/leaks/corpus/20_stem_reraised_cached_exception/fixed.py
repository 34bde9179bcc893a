"""The same controller caching only the failure's message (torproject/stem#156).

The fix caches the exception string and raises a fresh ControllerError each
time, so no traceback accumulates and no frame is kept.
"""

import itertools


class ControllerError(Exception):
    pass


class Controller:
    def __init__(self):
        self._last_fingerprint_error = None

    def msg(self, message):
        raise ControllerError("GETINFO fingerprint failed: not running in server mode")

    def get_info(self, params):
        if params == "fingerprint" and self._last_fingerprint_error:
            raise ControllerError(self._last_fingerprint_error)  # a fresh exception
        try:
            return self.msg("GETINFO %s" % params)
        except ControllerError as exc:
            if params == "fingerprint":
                self._last_fingerprint_error = str(exc)
            raise


class PanelUpdate:
    """What one refresh of the relay panel gathers before asking for the fingerprint."""

    def __init__(self, tick):
        self.tick = tick
        self.bandwidth = [tick % 97] * 40
        self.circuits = ["circuit-%d-%d" % (tick, n) for n in range(8)]


controller = Controller()
_ticks = itertools.count()


def refresh_relay_panel(tick):
    update = PanelUpdate(tick)
    try:
        update.fingerprint = controller.get_info("fingerprint")
    except ControllerError:
        update.fingerprint = None
    return update


def request(i):
    """One refresh of nyx's relay panel."""
    return refresh_relay_panel(next(_ticks)).tick


def main(requests=3000):
    for i in range(requests):
        request(i)
    return 0


if __name__ == "__main__":
    depth = main()
    print(f"refreshed the panel; entries in the cached exception's traceback: {depth}")
