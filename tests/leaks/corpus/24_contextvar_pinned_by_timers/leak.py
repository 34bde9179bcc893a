"""Per-request timers that keep the request's context, and its session, alive.

Rebuilt from aiidateam/aiida-core#4698, aio-libs/aiohttp#3938 and
run-llama/llama-agents#486: ``loop.call_later()`` (and ``call_soon``,
``call_at``) copies the current ``contextvars`` context into the handle it
returns. A value kept in a ContextVar for the request (the process in plumpy's
``PROCESS_STACK``, a workflow's ``RunContext``, here the request's session) is
therefore referenced by every timer scheduled during that request, and lives
until the timer fires: with long timeouts, effectively for good.
"""

import asyncio
import contextvars
import itertools

SESSION_TTL = 1800.0  # seconds

current_session = contextvars.ContextVar("current_session")
last_seen = {}


class Session:
    def __init__(self, session_id, user):
        self.session_id = session_id
        self.user = user
        self.data = {"cart": ["sku-%d" % n for n in range(20)], "csrf": "x" * 64}


def expire_session(session_id, seen_at):
    if last_seen.get(session_id) == seen_at:
        del last_seen[session_id]


async def handle(request_id, user_id):
    session = Session("sess-%d" % user_id, "user%d" % user_id)  # loaded fresh for each request
    current_session.set(session)
    await asyncio.sleep(0)  # the view runs, reading current_session
    loop = asyncio.get_running_loop()
    seen_at = last_seen[session.session_id] = request_id
    loop.call_later(SESSION_TTL, expire_session, session.session_id, seen_at)  # copies the context
    return len(session.data["cart"])


async def serve(requests, ids):
    # Each request runs in its own task, hence its own context, as in aiohttp.
    tasks = [asyncio.ensure_future(handle(next(ids), n % 50)) for n in range(requests)]
    return sum(await asyncio.gather(*tasks))


loop = asyncio.new_event_loop()
_ids = itertools.count()


def request(i):
    return loop.run_until_complete(serve(1, _ids))


def main(requests=2000):
    return loop.run_until_complete(serve(requests, _ids))


if __name__ == "__main__":
    main()
    print(f"served requests; timers pending, each holding a request's context: {len(loop._scheduled)}")
