"""How a title is read before any rule runs (documented for rule authors in the ruleset file).

Done once, in code, so rules never have to deal with case, accents, dots or separators.
"""

import re
import unicodedata

_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ı": "i"})
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_PUNCTUATION = str.maketrans(
    {
        **dict.fromkeys(".'’`´", ""),
        **dict.fromkeys(',:()[]{}"“”', " , "),
        **dict.fromkeys("/|;+•·\\", " | "),
        "&": " & ",
        **dict.fromkeys("-–—_", " "),
        "@": " at ",
        **dict.fromkeys("!?*#~^=<>", " "),
    }
)
_SPACED_DASH = re.compile(r"\s[-–—]+\s")
_DASHES = frozenset("-–—")

# Where one role's clause ends: vetoes never look across these.
CLAUSE_BREAK = re.compile(r" (?:\||&|and|und|et|y) ")
# A cheap first look: most titles have no break at all.
MAY_BREAK = re.compile(r"[|&]| (?:and|und|et|y) ")
_PLAIN = re.compile(r"[^a-z0-9 ]")


def normalise_title(title: str) -> str:
    if title.isascii():
        text = title.lower()
        if _PLAIN.search(text) is None:  # letters, digits and spaces only: nothing to translate
            return " ".join(text.split())
    else:
        text = title.casefold()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.translate(_INVISIBLE).translate(_LETTERS))
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    if not _DASHES.isdisjoint(text):
        text = _SPACED_DASH.sub(" | ", text)
    return " ".join(text.translate(_PUNCTUATION).split())
