"""The same server with the collector on, start-up objects frozen out of it.

Instagram's follow-up, "Copy-on-write friendly Python garbage collection":
``gc.freeze()`` after start-up moves everything allocated so far to a permanent
generation the collector never touches, and the collector is left enabled, so
request cycles are reclaimed at its usual pace.
"""

import gc
import itertools

gc.freeze()  # after start-up: the collector leaves these objects alone


class SimpleLazyObject:
    """django.utils.functional.SimpleLazyObject, reduced."""

    def __init__(self, func):
        self._setupfunc = func
        self._wrapped = None

    def __getattr__(self, name):
        if self._wrapped is None:
            self._wrapped = self._setupfunc()
        return getattr(self._wrapped, name)


class User:
    def __init__(self, username):
        self.username = username
        self.is_authenticated = True


class HttpRequest:
    def __init__(self, path, meta):
        self.path = path
        self.META = meta


def get_user(request):
    return User(request.META.get("REMOTE_USER", "anonymous"))


class AuthenticationMiddleware:
    def process_request(self, request):
        # The lambda closes over request, and request holds the lazy object: a cycle.
        request.user = SimpleLazyObject(lambda: get_user(request))


middleware = AuthenticationMiddleware()
_ids = itertools.count()


def request(i):
    n = next(_ids)
    req = HttpRequest("/feed/%d" % n, {"REMOTE_USER": "user%d" % (n % 1000), "HTTP_ACCEPT": "*/*" * 10})
    middleware.process_request(req)
    return req.user.username


def main(requests=5000):
    for i in range(requests):
        request(i)
    return gc.get_count()


if __name__ == "__main__":
    main()
    print(f"served requests; objects since the last collection: {gc.get_count()[0]}")
