"""A session table that grows to its working size once, then only churns.

Each request replaces the entry of one of 5,000 session slots (sessions end
and new ones start). The dict is resized while it fills during warm-up; after
that, deletions and insertions keep its size constant.
"""

import itertools

sessions = {}
_ids = itertools.count()


def request(i):
    n = next(_ids)
    slot = n % 5000
    sessions.pop(("slot", slot), None)
    sessions[("slot", slot)] = {"user": n, "started": n * 0.5}
    return len(sessions)


def main(requests=20000):
    return max(request(i) for i in range(requests))


if __name__ == "__main__":
    print(f"served requests; sessions held: {main()}")
