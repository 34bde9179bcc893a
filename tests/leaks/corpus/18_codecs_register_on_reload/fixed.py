"""The same plugin registering its search function once, whatever the reloads.

Registration happens the first time only; the search function reads the
current table, which a reload replaces. (On 3.10+ ``codecs.unregister()``,
added for python/cpython#86008, is the other way out.)
"""

import codecs
import itertools


class CharsetTable:
    """A site-specific single-byte charset (decoding and encoding maps)."""

    def __init__(self, revision):
        self.revision = revision
        self.decoding_table = "".join(chr(0x100 + (b + revision) % 0x500) for b in range(256))
        self.encoding_table = codecs.charmap_build(self.decoding_table)


_current = {}


def _search_function(name):
    if name != "x_site_legacy":
        return None
    return codecs.CodecInfo(
        name="x-site-legacy",
        encode=lambda text, errors="strict": codecs.charmap_encode(text, errors, _current["table"].encoding_table),
        decode=lambda data, errors="strict": codecs.charmap_decode(data, errors, _current["table"].decoding_table),
    )


def load_plugin(revision):
    """What importing (or reloading) the plugin module does."""
    if not _current:
        codecs.register(_search_function)
    table = _current["table"] = CharsetTable(revision)
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
    print("reloaded the plugin; one search function registered")
