"""The same tracker with one track registry per Tracker.

The fix for talmolab/sleap-nn#574 gives each Tracker its own dict
(``attrs.field(factory=dict)``); here, a dict made in ``__init__``.
"""

import itertools

_track_ids = itertools.count()


class Track:
    def __init__(self, name, spawned_on):
        self.name = name
        self.spawned_on = spawned_on
        self.points = [(0.0, 0.0)] * 16


class Instance:
    def __init__(self, frame_idx, track=None):
        self.frame_idx = frame_idx
        self.track = track


class Tracker:
    window_size = 5
    def __init__(self):
        self.candidates = []
        self._track_objects = {}

    def track(self, untracked_instances, frame_idx):
        tracked = []
        for inst in untracked_instances:
            track_id = next(_track_ids)
            if track_id not in self._track_objects:
                self._track_objects[track_id] = Track(name=f"track_{track_id}", spawned_on=frame_idx)
            inst.track = self._track_objects[track_id]
            tracked.append(inst)
        self.candidates = tracked[-self.window_size:]
        return tracked


def request(i):
    """Track one short video (a new Tracker, as each Predictor makes)."""
    tracker = Tracker()
    for frame_idx in range(3):
        tracker.track([Instance(frame_idx) for _ in range(2)], frame_idx)
    return tracker


def main(requests=3000):
    tracker = None
    for i in range(requests):
        tracker = request(i)
    return len(tracker._track_objects) if tracker else 0


if __name__ == "__main__":
    held = main()
    print(f"tracked videos; tracks held by the last tracker: {held}")
