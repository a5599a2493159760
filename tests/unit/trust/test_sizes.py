"""Package size limits: refused at the first file over, with the limit and the size found."""

from __future__ import annotations

import pytest

from lanai.trust import sizes

SMALL = sizes.PackageLimits(bytes=100, files=3)


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (12, "12 bytes"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (8 * sizes.MiB, "8 MiB"),
        (sizes.RESOURCES_CHARACTERS, "1.2 MiB"),
    ],
)
def test_amounts_read_like_people_write_them(size: int, shown: str) -> None:
    assert sizes.amount(size) == shown


def test_files_within_the_limits_pass() -> None:
    tally = sizes.Tally('package "p"', SMALL)
    for size in (40, 40, 20):
        tally.add(size)
    assert (tally.files, tally.bytes) == (3, 100)


def test_the_first_byte_over_is_refused_naming_limit_size_and_remedy() -> None:
    tally = sizes.Tally('package "net/basens" at 3f2a1b9c0d4e', SMALL)
    tally.add(60)
    with pytest.raises(sizes.TooLarge) as refused:
        tally.add(41)
    message = str(refused.value)
    assert message.startswith('package "net/basens" at 3f2a1b9c0d4e is too large')
    assert "more than 100 bytes (100 bytes; 101 bytes found in its first 2 files)" in message
    assert "keep large or generated files out of the package" in message


def test_one_file_too_many_is_refused() -> None:
    tally = sizes.Tally('package "p"', SMALL)
    for _ in range(3):
        tally.add(0)
    with pytest.raises(sizes.TooLarge, match='package "p" holds more than 3 files'):
        tally.add(0)


def test_directories_are_bounded_too() -> None:
    tally = sizes.Tally('package "p"', SMALL)
    for _ in range(3):
        tally.enter()
    with pytest.raises(sizes.TooLarge, match="more than 3 directories"):
        tally.enter()


def test_the_defaults_fit_the_resources_object_and_the_operator() -> None:
    assert sizes.PACKAGE_FILES == 4096
    assert sizes.RESOURCES_CHARACTERS < 1.5 * sizes.MiB < sizes.PACKAGE_BYTES
    assert sizes.PackageLimits() == sizes.PackageLimits(sizes.PACKAGE_BYTES, sizes.PACKAGE_FILES)
