"""One byte formatter: the Python verbs and the examples print sizes as the CLI does."""
import pytest

from memlens import _core
from memlens import _verb_demo
from memlens.examples import _harness


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (13_002_342, "12.4 MiB"),
        (1_048_575, "1.0 MiB"),  # the next unit, never "1024.0 KiB"
        (3 * 1024**3, "3.0 GiB"),
    ],
)
def test_sizes_read_the_same_everywhere(size, text):
    assert _core.format_bytes(size) == text


def test_the_demo_and_the_examples_sign_every_delta():
    # GIVEN growth, no growth and shrinkage
    # THEN both show a sign, "+0 B" included (as they always did)
    for signed in (_verb_demo._signed_bytes, _harness._human):
        assert signed(1_468_006) == "+1.4 MiB"
        assert signed(0) == "+0 B"
        assert signed(-24) == "-24 B"


def test_a_negative_size_is_refused():
    with pytest.raises(OverflowError):
        _core.format_bytes(-1)
