"""The same service without DEBUG_SAVEALL: the collector frees what it finds.

``DEBUG_SAVEALL`` is a debugging aid for a single inspection, not a production
setting (yt-dlp/yt-dlp#1949: "gc.garbage shows all objects that were garbage
collected - ever"); ``DEBUG_UNCOLLECTABLE`` alone only reports.
"""

import gc
import itertools
import os

GC_DEBUG_LOGGING = os.environ.get("GC_DEBUG_LOGGING", "DEBUG_UNCOLLECTABLE")
flags = 0
for name in GC_DEBUG_LOGGING.split("|"):
    if name:
        flags |= getattr(gc, name)
gc.set_debug(flags)


class Thumbnail:
    def __init__(self, identifier, width):
        self.identifier = identifier
        self.width = width
        self.callbacks = []
        self.headers = {"Content-Type": "image/jpeg", "X-Upstream": "https://images.example/%s" % identifier}

    def on_complete(self, callback):
        self.callbacks.append(callback)

    def done(self):
        for callback in self.callbacks:
            callback()


def serve_thumbnail(identifier):
    thumb = Thumbnail(identifier, 600)
    # The completion callback closes over thumb, which holds it: a cycle.
    thumb.on_complete(lambda: thumb.headers.setdefault("X-Cache", "MISS"))
    thumb.done()
    return thumb.headers["X-Cache"]


_ids = itertools.count()


def request(i):
    return serve_thumbnail("%08x-%d" % (next(_ids), i))


def main(requests=5000):
    for i in range(requests):
        request(i)
    gc.collect()
    return len(gc.garbage)


if __name__ == "__main__":
    saved = main()
    print(f"served thumbnails; objects saved in gc.garbage: {saved}")
