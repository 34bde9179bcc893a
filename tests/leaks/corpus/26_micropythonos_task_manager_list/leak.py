"""A task manager whose class-level list keeps every task it ever created.

Rebuilt from MicroPythonOS/MicroPythonOS#261: ``TaskManager.task_list`` is a
class attribute and ``create_task()`` only appends to it (a comment even says it
"might be good to periodically remove tasks that are done"). Every completed
task stays referenced with its coroutine and result: 100 short tasks with a
10 KB buffer each left ~1 MB retained after garbage collection.
"""

import asyncio
import itertools


class TaskManager:
    task_list = []  # might be good to periodically remove tasks that are done

    @classmethod
    def create_task(cls, coroutine):
        task = asyncio.ensure_future(coroutine)
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
