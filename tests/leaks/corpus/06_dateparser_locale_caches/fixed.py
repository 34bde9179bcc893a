"""The same parser with its Locale caches bounded (scrapinghub/dateparser#1140).

The pull request adds ``CACHE_SIZE_LIMIT``: once a cache holds that many
settings keys, the oldest key is dropped before a new one is added.
"""

import datetime
import itertools
import re


class Settings:
    def __init__(self, **overrides):
        self.PREFER_DATES_FROM = "current_period"
        self.RELATIVE_BASE = overrides.get("RELATIVE_BASE")
        self.registry_key = "".join("%s:%s;" % kv for kv in sorted(vars(self).items()))


LANGUAGE_INFO = {
    "en": {
        "words": ["january", "february", "march", "april", "may", "june", "july", "august",
                  "september", "october", "november", "december", "monday", "tuesday",
                  "wednesday", "thursday", "friday", "saturday", "sunday", "ago", "in", "today"],
        "relative": ["yesterday", "tomorrow", "in \\d+ days", "\\d+ days ago", "last week", "next week"],
    },
    "de": {
        "words": ["januar", "februar", "märz", "april", "mai", "juni", "juli", "august",
                  "september", "oktober", "november", "dezember", "montag", "dienstag",
                  "mittwoch", "donnerstag", "freitag", "samstag", "sonntag", "vor", "heute"],
        "relative": ["gestern", "morgen", "in \\d+ tagen", "vor \\d+ tagen", "letzte woche"],
    },
}


CACHE_SIZE_LIMIT = 100


def _cache_for(cache, key):
    """The per-settings dict of ``cache``, evicting the oldest key when full."""
    if key not in cache and len(cache) >= CACHE_SIZE_LIMIT:
        del cache[next(iter(cache))]
    return cache.setdefault(key, {})


class Locale:
    _split_regex_cache = {}
    _sorted_words_cache = {}
    _split_relative_regex_cache = {}
    _sorted_relative_strings_cache = {}
    _match_relative_regex_cache = {}

    def __init__(self, shortname, language_info):
        self.shortname = shortname
        self.info = language_info

    def _get_sorted_words_from_cache(self, settings):
        cache = _cache_for(self._sorted_words_cache, settings.registry_key)
        if self.shortname not in cache:
            cache[self.shortname] = sorted(self.info["words"], key=len, reverse=True)
        return cache[self.shortname]

    def _get_split_regex_cache(self, settings):
        cache = _cache_for(self._split_regex_cache, settings.registry_key)
        if self.shortname not in cache:
            words = self._get_sorted_words_from_cache(settings)
            cache[self.shortname] = re.compile("(%s)" % "|".join(words), re.I)
        return cache[self.shortname]

    def _get_sorted_relative_strings_from_cache(self, settings):
        cache = _cache_for(self._sorted_relative_strings_cache, settings.registry_key)
        if self.shortname not in cache:
            cache[self.shortname] = sorted(self.info["relative"], key=len, reverse=True)
        return cache[self.shortname]

    def _get_split_relative_regex_cache(self, settings):
        cache = _cache_for(self._split_relative_regex_cache, settings.registry_key)
        if self.shortname not in cache:
            strings = self._get_sorted_relative_strings_from_cache(settings)
            cache[self.shortname] = re.compile("(%s)" % "|".join(strings), re.I)
        return cache[self.shortname]

    def _get_match_relative_regex_cache(self, settings):
        cache = _cache_for(self._match_relative_regex_cache, settings.registry_key)
        if self.shortname not in cache:
            strings = self._get_sorted_relative_strings_from_cache(settings)
            cache[self.shortname] = re.compile("^(%s)$" % "|".join(strings), re.I)
        return cache[self.shortname]

    def split(self, string, settings):
        self._get_match_relative_regex_cache(settings)
        tokens = self._get_split_relative_regex_cache(settings).split(string)
        return [t for tok in tokens for t in self._get_split_regex_cache(settings).split(tok) if t]


LOCALES = [Locale(name, info) for name, info in LANGUAGE_INFO.items()]


def parse(date_string, settings=None):
    settings = Settings(**(settings or {}))
    for locale in LOCALES:
        tokens = locale.split(date_string.lower(), settings)
        if len(tokens) > 1:
            return tokens
    return None


_base = datetime.datetime(2023, 2, 8)
_calls = itertools.count()


def request(i):
    """Parse one user-entered date relative to 'now' (a new base every call)."""
    base = _base + datetime.timedelta(seconds=i)
    return parse("12 days ago", settings={"RELATIVE_BASE": base})


def main(requests=3000):
    for _ in range(requests):
        request(next(_calls))
    return len(Locale._split_regex_cache)


if __name__ == "__main__":
    keys = main()
    print(f"parsed dates; settings keys cached per Locale cache: {keys}")
