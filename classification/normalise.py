"""How a title is read before any rule runs (documented for rule authors in the ruleset file).

Done once, in code, so rules never have to deal with case, accents, dots or separators.
"""

import re
import unicodedata
from functools import lru_cache

from .scripts import CJK_RANGES, KANA_MARKS, cjk_spaced, han_kana_table, hebrew_acronyms_join

# Arabic: taa marbuta and alef maqsura read as the letters they alternate with in typed text.
_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ı": "i", "ة": "ه", "ى": "ي"})
# Zero-width characters, the soft hyphen and the Arabic tatweel (a stretching stroke, no letter).
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u0640"), None)
# Decomposed Hangul syllables and kana with their voiced marks: composed again.
_TO_COMPOSE = re.compile(f"[\u1100-\u11ff{KANA_MARKS}]")
_PUNCTUATION = str.maketrans(
    {
        **dict.fromkeys(".'’`´", ""),
        **dict.fromkeys(',:()[]{}"“”、،「」『』【】〈〉《》〔〕', " , "),
        **dict.fromkeys("/|;+•·\\؛", " | "),
        "&": " & ",
        **dict.fromkeys("-–—_\u05be", " "),
        **dict.fromkeys("。・", " "),
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
_LOOKALIKE_SET = frozenset(_LOOKALIKES)
_ANY_LOOKALIKE = re.compile(f"[{''.join(_LOOKALIKES)}]")
# A letter that is neither Latin nor a look-alike: one only its own script has.
_REAL_SCRIPT_LETTER = re.compile(f"[^\\W\\d_a-z{''.join(_LOOKALIKES)}]")
_ASCII_LETTER = re.compile("[a-z]")
# A run of letters (the words a look-alike may hide in); which of them hold one is a set check,
# not part of the pattern: a pattern that looked for one inside a run backtracked over the whole
# run from every letter, seconds for 10 KB of Chinese.
_LETTER_RUN = re.compile(r"[^\W\d_]+")
_DASHES = frozenset("-–—")

# "And" between words, in the languages the rules read (Russian и, Ukrainian і/та, Greek και).
# Korean 겸/및 and the Chinese and Japanese ones written without spaces join roles without ending
# a clause (engine.py): 동아리 회장 겸 사장 is the club's, both times.
AND_WORDS = ("and", "und", "et", "y", "и", "і", "та", "και")
# Where one role's clause ends: vetoes never look across these.
CLAUSE_BREAK = re.compile(rf" (?:\||&|{'|'.join(AND_WORDS)}) ")
# A cheap first look: most titles have no break at all.
MAY_BREAK = re.compile(rf"[|&]| (?:{'|'.join(AND_WORDS)}) ")
_PLAIN = re.compile(r"[^a-z0-9 ]")
# What is left that is neither a letter, a digit nor a separator the rules read ("$", "%", "©"):
# a space. So a word ends only at a space (or in CJK text, engine.py), which keeps the rules' word
# boundary a few instructions instead of "any character but a letter or digit" (a thousand).
_NEITHER_WORD_NOR_SEPARATOR = re.compile(r"[^\w ,|&]")
_EAST_ASIAN = re.compile(f"[{CJK_RANGES}]")
# "Is there any?" as a regex scan: a set test walks the title one Python string per character.
_ANY_PUNCTUATION = re.compile("[" + "".join(re.escape(chr(code)) for code in _PUNCTUATION) + "]")


def normalise_title(title: str) -> str:
    if title.isascii():
        text = title.lower()
        if _PLAIN.search(text) is None:  # letters, digits and spaces only: nothing to translate
            return " ".join(text.split())
    else:
        text = title.casefold()
    if not text.isascii():
        text = hebrew_acronyms_join(letters_fold(text))
        if not text.isascii():
            if _ANY_LOOKALIKE.search(text) is not None:
                text = _lookalikes_fold(text)
            if _EAST_ASIAN.search(text) is not None:
                text = cjk_spaced(text)
    if "." in text:
        text = _GLUED_DOT.sub(" ", text)
    if not _DASHES.isdisjoint(text):
        text = _SPACED_DASH.sub(" | ", text)
    if _ANY_PUNCTUATION.search(text) is not None:
        text = text.translate(_PUNCTUATION)
    if _NEITHER_WORD_NOR_SEPARATOR.search(text) is not None:
        text = _NEITHER_WORD_NOR_SEPARATOR.sub(" ", text)
    return " ".join(text.split())


def letters_fold(text: str) -> str:
    """The letters of `text` as rules read them: case, accents, compatibility forms, and the
    scripts' own variants (scripts.py). Also applied to the non-ASCII letters of rule patterns,
    so a rule can be written as people write the title (總裁 or 总裁, Генеральный)."""
    # Compatibility forms fold to capitals (full-width ＣＥＯ, mathematical 𝐂𝐄𝐎): fold case again.
    text = _combining_marks().sub("", unicodedata.normalize("NFKD", text)).casefold()
    if _TO_COMPOSE.search(text) is not None:
        text = unicodedata.normalize("NFC", text)
    return text.translate(_fold_table())


@lru_cache(maxsize=1)
def _fold_table() -> dict[int, str | None]:
    """One pass for every letter-for-letter fold (str.translate costs a lookup per character,
    so one table, not one per script)."""
    return {**han_kana_table(), **_INVISIBLE, **_LETTERS}


@lru_cache(maxsize=1)
def _combining_marks() -> re.Pattern:
    """Every combining mark of the Basic Multilingual Plane (accents, harakat, niqqud, …) but the
    kana voiced marks, as one character class: a regex scan, where a test per character cost a
    millisecond per 10 KB (and a class reaching beyond the plane scans 30 times slower; the marks
    there are of historic scripts and musical notation)."""
    marks = [chr(code) for code in range(0x300, 0x10000) if unicodedata.combining(chr(code))]
    return re.compile("[" + "".join(re.escape(mark) for mark in marks if mark not in KANA_MARKS) + "]")


def _lookalikes_fold(text: str) -> str:
    """Look-alike letters read as Latin in a word that mixes them with Latin letters ("СEO"). A
    word of look-alikes alone ("СЕО") is read as Latin when the title is that word, or when the
    rest of the title is written in Latin letters ("СЕО, Acme"); beside other Cyrillic or Greek
    words it is real text ("Специалист СЕО" is an SEO specialist, "Мастер СТО" a garage foreman)."""
    # The rest of the title is Latin: no letter only another script has, and a word in Latin letters.
    latin = _REAL_SCRIPT_LETTER.search(text) is None and any(
        word.isascii() and _ASCII_LETTER.search(word) is not None for word in text.split()
    )
    alone: list[bool] = []  # worked out when first needed (rarely: most words settle before)

    def fold(match: re.Match) -> str:
        word = match.group()
        if _LOOKALIKE_SET.isdisjoint(word) or _REAL_SCRIPT_LETTER.search(word) is not None:
            return word  # no look-alike, or a letter only its own script has: real text
        if latin or _ASCII_LETTER.search(word) is not None:
            return word.translate(_LOOKALIKE_TABLE)
        if not alone:
            alone.append(sum(not _LOOKALIKE_SET.isdisjoint(run) for run in _LETTER_RUN.findall(text)) == 1)
        return word.translate(_LOOKALIKE_TABLE) if alone[0] else word

    return _LETTER_RUN.sub(fold, text)
