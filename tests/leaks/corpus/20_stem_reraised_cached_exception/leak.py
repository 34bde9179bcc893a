"""A controller that caches a failure and re-raises the same exception object.

Rebuilt from torproject/stem#156 (torproject/nyx#52): ``Controller.get_info()``
remembered the ControllerError of a failed 'fingerprint' (or 'address') query
in ``self._last_fingerprint_exc`` and raised that same object on later calls.
Raising an exception object again prepends the new frames to its existing
``__traceback__``, so each call grew the cached exception's traceback by the
frames of that call, with their locals: nyx, polling every second, needed more
than a gigabyte after three days.
"""

import itertools


class ControllerError(Exception):
    pass


class Controller:
    def __init__(self):
        self._last_fingerprint_exc = None

    def msg(self, message):
        raise ControllerError("GETINFO fingerprint failed: not running in server mode")

    def get_info(self, params):
        if params == "fingerprint" and self._last_fingerprint_exc:
            raise self._last_fingerprint_exc  # the same object, every time
        try:
            return self.msg("GETINFO %s" % params)
        except ControllerError as exc:
            if params == "fingerprint":
                self._last_fingerprint_exc = exc
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
    tb, depth = controller._last_fingerprint_exc.__traceback__, 0
    while tb is not None:
        tb, depth = tb.tb_next, depth + 1
    return depth


if __name__ == "__main__":
    depth = main()
    print(f"refreshed the panel; entries in the cached exception's traceback: {depth}")
