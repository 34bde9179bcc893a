"""A date parser whose Locale caches are class-level dicts keyed by settings.

Rebuilt from scrapinghub/dateparser#1140: ``Locale`` keeps five class-level
caches (``_split_regex_cache``, ``_sorted_words_cache`` ...) keyed by the
settings' ``registry_key``. Passing ``settings={'RELATIVE_BASE': datetime.utcnow()}``
makes a new key on every call, so each ``dateparser.parse`` added entries to
every cache: ~0.55 MB per call in the report, 1.5 GB after 3000 calls.
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
        cache = self._sorted_words_cache.setdefault(settings.registry_key, {})
        if self.shortname not in cache:
            cache[self.shortname] = sorted(self.info["words"], key=len, reverse=True)
        return cache[self.shortname]

    def _get_split_regex_cache(self, settings):
        cache = self._split_regex_cache.setdefault(settings.registry_key, {})
        if self.shortname not in cache:
            words = self._get_sorted_words_from_cache(settings)
            cache[self.shortname] = re.compile("(%s)" % "|".join(words), re.I)
        return cache[self.shortname]

    def _get_sorted_relative_strings_from_cache(self, settings):
        cache = self._sorted_relative_strings_cache.setdefault(settings.registry_key, {})
        if self.shortname not in cache:
            cache[self.shortname] = sorted(self.info["relative"], key=len, reverse=True)
        return cache[self.shortname]

    def _get_split_relative_regex_cache(self, settings):
        cache = self._split_relative_regex_cache.setdefault(settings.registry_key, {})
        if self.shortname not in cache:
            strings = self._get_sorted_relative_strings_from_cache(settings)
            cache[self.shortname] = re.compile("(%s)" % "|".join(strings), re.I)
        return cache[self.shortname]

    def _get_match_relative_regex_cache(self, settings):
        cache = self._match_relative_regex_cache.setdefault(settings.registry_key, {})
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
