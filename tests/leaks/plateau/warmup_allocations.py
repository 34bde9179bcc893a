"""First-request costs: lazy imports and first-call caches, then nothing.

The first requests import modules lazily (decimal, fractions, statistics) and
fill per-currency formatting tables memoized with functools.cache over a fixed
set of currencies. Every later request reuses them.
"""

import functools
import itertools

CURRENCIES = ["EUR", "USD", "GBP", "JPY", "CHF", "SEK", "NOK", "DKK"]


@functools.cache
def formatting_table(currency):
    import decimal  # imported lazily, on first use

    return {"quantum": decimal.Decimal("0.01") if currency != "JPY" else decimal.Decimal("1"),
            "symbol": {"EUR": "€", "USD": "$", "GBP": "£"}.get(currency, currency)}


_ids = itertools.count()


def request(i):
    import fractions  # lazy import in the handler
    import statistics

    n = next(_ids)
    table = formatting_table(CURRENCIES[n % len(CURRENCIES)])
    amounts = [fractions.Fraction(n + k, 3) for k in range(5)]
    return "%s%s" % (table["symbol"], float(statistics.mean(amounts)))


def main(requests=5000):
    return sum(len(request(i)) for i in range(requests))


if __name__ == "__main__":
    main()
    print(f"formatted amounts; currency tables built: {formatting_table.cache_info().currsize}")
