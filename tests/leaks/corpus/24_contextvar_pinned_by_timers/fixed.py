"""The same sessions expired by one sweeper that runs in an empty context.

aiidateam/aiida-core#4698 suggests passing an explicit empty context to
``call_later``; here the per-request timers are replaced by a single periodic
sweeper scheduled with ``context=contextvars.Context()``, so no request's
context is kept by any timer.
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


def sweep_sessions(loop):
    now = loop.time()
    for session_id, seen_at in list(last_seen.items()):
        if now - seen_at > SESSION_TTL:
            del last_seen[session_id]
    loop.call_later(60.0, sweep_sessions, loop, context=contextvars.Context())


async def handle(request_id, user_id):
    session = Session("sess-%d" % user_id, "user%d" % user_id)  # loaded fresh for each request
    current_session.set(session)
    await asyncio.sleep(0)  # the view runs, reading current_session
    last_seen[session.session_id] = asyncio.get_running_loop().time()
    return len(session.data["cart"])


async def serve(requests, ids):
    # Each request runs in its own task, hence its own context, as in aiohttp.
    tasks = [asyncio.ensure_future(handle(next(ids), n % 50)) for n in range(requests)]
    return sum(await asyncio.gather(*tasks))


loop = asyncio.new_event_loop()
loop.call_soon(sweep_sessions, loop, context=contextvars.Context())
_ids = itertools.count()


def request(i):
    return loop.run_until_complete(serve(1, _ids))


def main(requests=2000):
    return loop.run_until_complete(serve(requests, _ids))


if __name__ == "__main__":
    main()
    print(f"served requests; timers pending: {len(loop._scheduled)}")
