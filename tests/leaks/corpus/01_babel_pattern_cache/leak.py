"""A date formatter that caches every parsed pattern in a module-level dict.

Rebuilt from python-babel/babel#962: ``babel.dates.parse_pattern`` stored each
``DateTimePattern`` in ``_pattern_cache`` keyed by the pattern string, with no
bound, so a service formatting dates with many distinct (user-supplied) patterns
kept every one of them.
"""

import datetime
import itertools

_pattern_cache = {}

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


def parse_pattern(pattern):
    """Parse a date/time format pattern (cached forever, as babel did)."""
    if isinstance(pattern, DateTimePattern):
        return pattern
    if pattern in _pattern_cache:
        return _pattern_cache[pattern]
    parts, fields = [], []
    for kind, value in tokenize_pattern(pattern):
        if kind == "chars":
            parts.append(value.replace("%", "%%"))
        else:
            name = PATTERN_CHARS[value[0]]
            fields.append(name)
            parts.append("%%(%s)0%dd" % (name, value[1]))
    _pattern_cache[pattern] = pat = DateTimePattern(pattern, "".join(parts), tuple(fields))
    return pat


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
    print(f"formatted {len(_pattern_cache)} headers; patterns cached: {len(_pattern_cache)}")
