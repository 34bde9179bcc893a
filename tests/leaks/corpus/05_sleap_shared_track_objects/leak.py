"""A tracker whose track registry is one dict shared by every Tracker.

Rebuilt from talmolab/sleap-nn#574: ``Tracker._track_objects: Dict[int, sio.Track]
= {}`` was declared with a bare mutable default on an attrs class, so the same
dict served every Tracker in the process; ``track()`` filled it and nothing ever
pruned it. Tracking many videos in one session kept every Track ever created
(and mixed identities across videos). The rebuild uses a plain class attribute,
which is what that shared default amounts to, and numbers tracks process-wide.
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
    _track_objects = {}  # shared by every Tracker: the bug

    def __init__(self):
        self.candidates = []

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
    for i in range(requests):
        request(i)
    return len(Tracker._track_objects)


if __name__ == "__main__":
    held = main()
    print(f"tracked videos; tracks held by the shared dict: {held}")
