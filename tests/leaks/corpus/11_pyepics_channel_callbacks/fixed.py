"""The same layer storing bound-method callbacks weakly (pyepics/pyepics#10).

The fix splits a bound method into a weak reference to its object plus the
function (``weakref.WeakMethod``), and forgets callbacks whose object is gone.
"""

import itertools
import weakref


class _ChannelRecord:
    def __init__(self, pvname):
        self.pvname = pvname
        self.chid = hash(pvname) & 0xFFFF
        self.conn = True
        self.callbacks = []


_cache = {}


def create_channel(pvname, callback=None):
    record = _cache.get(pvname)
    if record is None:
        record = _cache[pvname] = _ChannelRecord(pvname)
    if callback is not None:
        record.callbacks = [ref for ref in record.callbacks if ref() is not None]
        record.callbacks.append(weakref.WeakMethod(callback) if hasattr(callback, "__self__") else weakref.ref(callback))
        if record.conn:
            callback(pvname=pvname, chid=record.chid, conn=True)
    return record.chid


class PV:
    def __init__(self, pvname, count=250):
        self.pvname = pvname
        self.connected = False
        self._value = [0.0] * count
        self.chid = create_channel(pvname, callback=self.__on_connect)

    def __on_connect(self, pvname=None, chid=None, conn=True):
        self.connected = conn

    def get(self):
        return self._value


_polls = itertools.count()


def request(i):
    """A panel refresh: a fresh PV object for the beam-current waveform."""
    pv = PV("SR:C01-BI{DCCT:1}I:Waveform-I")
    next(_polls)
    return len(pv.get())


def main(requests=1500):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    record = _cache["SR:C01-BI{DCCT:1}I:Waveform-I"]
    print(f"refreshed the panel; connection callbacks held: {len(record.callbacks)}")
