"""The same formatter with the cache bounded, as babel's fix did.

python-babel/babel#967 replaced the unbounded ``_pattern_cache`` dict with
``functools.lru_cache`` on ``parse_pattern``.
"""

import datetime
import itertools
import functools

PATTERN_CHARS = {"y": "year", "M": "month", "d": "day", "H": "hour", "m": "minute", "s": "second"}


class DateTimePattern:
    def __init__(self, pattern, format, fields):
        self.pattern = pattern
        self.format = format
        self.fields = fields

    def apply(self, value):
        return self.format % {name: getattr(value, name) for name in self.fields}


def tokenize_pattern(pattern):
    """Split an LDML pattern into ("chars", text) and ("field", (char, width)) tokens."""
    tokens, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":
            end = pattern.index("'", i + 1)
            tokens.append(("chars", pattern[i + 1:end]))
            i = end + 1
        elif ch in PATTERN_CHARS:
            width = 1
            while i + width < len(pattern) and pattern[i + width] == ch:
                width += 1
            tokens.append(("field", (ch, width)))
            i += width
        else:
            tokens.append(("chars", ch))
            i += 1
    return tokens


@functools.lru_cache(maxsize=256)
def _parse_pattern(pattern):
    parts, fields = [], []
    for kind, value in tokenize_pattern(pattern):
        if kind == "chars":
            parts.append(value.replace("%", "%%"))
        else:
            name = PATTERN_CHARS[value[0]]
            fields.append(name)
            parts.append("%%(%s)0%dd" % (name, value[1]))
    return DateTimePattern(pattern, "".join(parts), tuple(fields))


def parse_pattern(pattern):
    """Parse a date/time format pattern (the last 256 stay cached)."""
    if isinstance(pattern, DateTimePattern):
        return pattern
    return _parse_pattern(pattern)


def format_datetime(value, format):
    return parse_pattern(format).apply(value)


def request(i):
    """Render one invoice header; each customer has its own header pattern."""
    when = datetime.datetime(2023, 1, 28, 13, 27, i % 60)
    pattern = "'Invoice %d for customer %s, issued' yyyy-MM-dd 'at' HH:mm:ss" % (i, "c%05d" % i)
    return format_datetime(when, pattern)


_request_ids = itertools.count()


def main(requests=6000):
    line = ""
    for _ in range(requests):
        line = request(next(_request_ids))
    return line


if __name__ == "__main__":
    main()
    print(f"formatted headers; patterns cached: {_parse_pattern.cache_info().currsize}")
