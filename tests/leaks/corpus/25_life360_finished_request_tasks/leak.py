"""A data coordinator that keeps every request task it has created.

Rebuilt from pnbruckner/ha-life360#101: ``CirclesMembersDataUpdateCoordinator``
created an asyncio Task per member request (``_request()``), kept it so it
could be cancelled on unload, and never released finished ones. Each retained
Task holds its result payload; Home Assistant grew from ~470 MB to ~2.5 GB in a
day, and the profiler found 1,033 of 1,037 live Tasks were this coordinator's.
"""

import asyncio
import itertools


class CirclesMembersDataUpdateCoordinator:
    def __init__(self, members):
        self.members = members
        self._tasks = []

    async def _request(self, name, member, update):
        await asyncio.sleep(0)  # the HTTP request to the Life360 API
        return {
            "id": member,
            "activity": {"activity": "unknown", "timestamp": update},
            "location": {"latitude": 52.0 + update * 1e-6, "longitude": 4.0, "accuracy": 20.0},
            "history": ["%s@%d" % (member, n) for n in range(30)],
        }

    async def async_update_data(self, update):
        tasks = []
        for member in self.members:
            task = asyncio.ensure_future(self._request("Make client request to %s" % member, member, update))
            self._tasks.append(task)  # kept so they can be cancelled on unload
            tasks.append(task)
        return await asyncio.gather(*tasks)

    def async_shutdown(self):
        for task in self._tasks:
            task.cancel()


coordinator = CirclesMembersDataUpdateCoordinator(["member-%d" % n for n in range(5)])
loop = asyncio.new_event_loop()
_updates = itertools.count()


async def _poll(requests):
    total = 0
    for _ in range(requests):
        total += len(await coordinator.async_update_data(next(_updates)))
    return total


def request(i):
    """One periodic update: a request per circle member."""
    return loop.run_until_complete(_poll(1))


def main(requests=600):
    return loop.run_until_complete(_poll(requests))


if __name__ == "__main__":
    main()
    print(f"ran updates; Task objects held by the coordinator: {len(coordinator._tasks)}")
