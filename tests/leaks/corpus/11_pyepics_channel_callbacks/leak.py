"""A channel-access layer whose connection callbacks keep every PV alive.

Rebuilt from pyepics/pyepics#10: ``epics.ca`` keeps a module-level ``_cache`` of
channels, and each channel's record lists the callbacks to run on connection.
``PV.__init__`` registers its bound methods ``__on_connect`` there, and nothing
removes them when the PV is dropped, so applications that re-create PV objects
regularly (one per poll, per dialog, per scan) never free any of them.
"""

import itertools


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
        record.callbacks.append(callback)
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
