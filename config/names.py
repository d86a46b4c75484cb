"""Administrative names folded for comparison: no diacritics, no case, prefix optional.

A technician types "tinh khe" on a phone keyboard without Vietnamese input, and an
operator's spreadsheet says "xa Tinh Khe" or "TỊNH KHÊ": each must find "Xã Tịnh Khê".
Names are folded (NFD, combining marks dropped, đ/Đ → d, lower case, punctuation to
spaces) and the administrative prefix (Xã, Phường, Thị trấn, Huyện, Thị xã, Thành phố,
Quận, Đặc khu) is optional. Pure: no I/O. The status page's search
(:mod:`netmon.collector.search`) and the spreadsheet import both use it.
"""

from __future__ import annotations

import re
import unicodedata

#: Unit prefixes, folded, longest first so "thi tran" wins over a bare "thi".
UNIT_PREFIXES: tuple[str, ...] = (
    "thanh pho",
    "thi tran",
    "dac khu",
    "thi xa",
    "phuong",
    "huyen",
    "quan",
    "xa",
    "tp",
)

_NON_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Fold a name for comparison: no diacritics, đ → d, lower case, single spaces.

    >>> fold("Xã Tịnh Khê")
    'xa tinh khe'
    >>> fold("  ĐỨC   Phổ ")
    'duc pho'
    """
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", stripped.casefold()).strip()


def strip_prefix(folded: str) -> str:
    """A folded name without its unit prefix ("xa tinh khe" → "tinh khe").

    A name that is only a prefix word (a commune called "Quan") is kept whole.
    """
    for prefix in UNIT_PREFIXES:
        if folded.startswith(prefix + " ") and len(folded) > len(prefix) + 1:
            return folded[len(prefix) + 1 :]
    return folded


def core_name(text: str) -> str:
    """The folded name without prefix: the key two spellings of one unit share.

    >>> core_name("Thị trấn Ba Tơ") == core_name("ba to")
    True
    """
    return strip_prefix(fold(text))
