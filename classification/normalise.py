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
# A dot glued between two words ("SVP.Engineering", "Sr.Director") separates them; one inside an
# abbreviation (C.E.O., V.P., Ph.D.) has a single letter on a side and is dropped as before.
_GLUED_DOT = re.compile(r"(?<=[^\W\d_]{2})\.(?=[^\W\d_]{2})")

# Cyrillic and Greek letters that look like Latin ones (after case folding; from Unicode's
# confusables list, UTS #39, restricted to letters that pass for Latin in a title). A word made
# only of these and Latin letters ("СEO" with a Cyrillic С, an all-look-alike "СЕО") is read as
# the Latin word it shows; a word with any other letter of its script is real text and kept.
_LOOKALIKES = {
    **dict(zip("авеёзіїјкмнорстухѕһԁԛԝӏ", "abee3iijkmhopctyxshdqwl", strict=True)),
    **dict(zip("αβεηικμνορτυχζ", "abehikmnoptyxz", strict=True)),
}
_LOOKALIKE_TABLE = str.maketrans(_LOOKALIKES)
_LOOKALIKE_WORD = re.compile(r"[^\W\d_]*[" + "".join(_LOOKALIKES) + r"][^\W\d_]*")
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
        # Compatibility forms fold to capitals (full-width ＣＥＯ, mathematical 𝐂𝐄𝐎): fold case again.
        text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
        if not text.isascii():
            text = _lookalikes_fold(text)
    if "." in text:
        text = _GLUED_DOT.sub(" ", text)
    if not _DASHES.isdisjoint(text):
        text = _SPACED_DASH.sub(" | ", text)
    return " ".join(text.translate(_PUNCTUATION).split())


def _lookalikes_fold(text: str) -> str:
    """Look-alike letters read as Latin in a word that mixes them with Latin letters ("СEO"). A
    word of look-alikes alone ("СЕО") is read as Latin when the title is that word, or when the
    rest of the title is written in Latin letters ("СЕО, Acme"); beside other Cyrillic or Greek
    words it is real text ("Специалист СЕО" is an SEO specialist, "Мастер СТО" a garage foreman)."""
    words = text.split()
    latin = any(any("a" <= ch <= "z" for ch in word) and word.isascii() for word in words)
    alone = len(_LOOKALIKE_WORD.findall(text)) == 1 and not latin

    def fold(match: re.Match) -> str:
        word = match.group()
        if not all(ch.isascii() or ch in _LOOKALIKES for ch in word):
            return word  # a letter only its own script has: real text
        if word.isascii() or any("a" <= ch <= "z" for ch in word) or latin or alone:
            return word.translate(_LOOKALIKE_TABLE)
        return word

    return _LOOKALIKE_WORD.sub(fold, text)
