"""A plugin that registers a codec search function every time it is (re)loaded.

Rebuilt from python/cpython#86008 (bpo-41842): ``codecs.register()`` appends the
search function to a list the interpreter holds in C, and before Python 3.10
there was no way to remove it; the docs warn that this "may cause problems in
some cases, such as unit testing or module reloading". A service that reloads
its legacy-encoding plugin on every configuration change registers one more
search function each time, each keeping its charset tables alive.
"""

import codecs
import itertools


class CharsetTable:
    """A site-specific single-byte charset (decoding and encoding maps)."""

    def __init__(self, revision):
        self.revision = revision
        self.decoding_table = "".join(chr(0x100 + (b + revision) % 0x500) for b in range(256))
        self.encoding_table = codecs.charmap_build(self.decoding_table)


def load_plugin(revision):
    """What importing (or reloading) the plugin module does."""
    table = CharsetTable(revision)

    def search_function(name):
        if name != "x_site_legacy":
            return None
        return codecs.CodecInfo(
            name="x-site-legacy",
            encode=lambda text, errors="strict": codecs.charmap_encode(text, errors, table.encoding_table),
            decode=lambda data, errors="strict": codecs.charmap_decode(data, errors, table.decoding_table),
        )

    codecs.register(search_function)
    return table


_revisions = itertools.count(1)


def request(i):
    """A configuration change reloads the plugin, then a record is decoded."""
    table = load_plugin(next(_revisions))
    return len(bytes(range(64)).decode("x-site-legacy")) + len(table.decoding_table)


def main(requests=600):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    print("reloaded the plugin; every revision's search function is still registered")
