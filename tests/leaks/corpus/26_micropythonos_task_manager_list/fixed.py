"""The same task manager removing each task from its list when it finishes.

MicroPythonOS/MicroPythonOS#266 removes managed tasks from
``TaskManager.task_list`` as soon as they finish (try/finally around the
coroutine), keeping results, exceptions and cancellation as before.
"""

import asyncio
import itertools


class TaskManager:
    task_list = []  # the running tasks only

    @classmethod
    def create_task(cls, coroutine):
        async def managed():
            try:
                return await coroutine
            finally:
                cls.task_list.remove(task)

        task = asyncio.ensure_future(managed())
        cls.task_list.append(task)
        return task


async def check_for_update(app_id):
    await asyncio.sleep(0)
    manifest = bytearray(10 * 1024)  # the downloaded manifest
    manifest[:8] = b"%08d" % app_id
    return bytes(manifest)


loop = asyncio.new_event_loop()
_apps = itertools.count()


async def _run(requests):
    tasks = [TaskManager.create_task(check_for_update(next(_apps))) for _ in range(requests)]
    return sum(len(r) for r in await asyncio.gather(*tasks))


def request(i):
    """A UI action starts one short task (an update check)."""
    return loop.run_until_complete(_run(1))


def main(requests=600):
    return loop.run_until_complete(_run(requests))


if __name__ == "__main__":
    main()
    print(f"ran update checks; tasks in TaskManager.task_list: {len(TaskManager.task_list)}")
