"""A repository client whose methods are decorated with functools.cache.

Rebuilt from getsentry/seer#2512: Autofix's repo client cached
``get_file_content`` (and other methods) with ``@functools.cache`` on the methods. The
cache lives on the function, shared by all instances, and its keys include
``self``, so every RepoClient ever created (one per Autofix run) stayed alive
with every file it had fetched, and a new client never even hit the cache.
"""

import functools
import hashlib
import itertools


class RepoClient:
    def __init__(self, repo_name, installation_token):
        self.repo_name = repo_name
        self.token = installation_token
        self.session_headers = {"Authorization": "token " + installation_token}

    def _fetch(self, path, sha):
        seed = hashlib.sha1(("%s:%s:%s" % (self.repo_name, path, sha)).encode()).hexdigest()
        return (seed * 40)[:1500]

    @functools.cache
    def get_file_content(self, path, sha="HEAD"):
        return self._fetch(path, sha)

    def get_index_file_set(self, sha="HEAD"):
        return frozenset("src/module_%d.py" % n for n in range(30))


def run_autofix(run_id):
    client = RepoClient("getsentry/sentry", "ghs_%032d" % run_id)
    files = sorted(client.get_index_file_set())[:4]
    return sum(len(client.get_file_content(path)) for path in files)


_runs = itertools.count()


def request(i):
    """One Autofix run: a new client, a few files read."""
    return run_autofix(next(_runs))


def main(requests=1500):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    print(f"ran autofix; cached file contents: {RepoClient.get_file_content.cache_info().currsize}")
