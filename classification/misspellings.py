"""Role words typed with one slip ("Cheif", "Presdient", "Financal"), read as the word meant.

The ruleset names the words that tolerate a slip and the real words one slip away that must
never be read as a role ("office" is not "officer", "resident" is not "president"). A slip is
one letter wrong, missing or extra, or two neighbouring letters swapped: an optimal string
alignment distance of 1 (rapidfuzz). Only words of `min_length` letters or more are read this
way, so short real words ("chef" for "chief") stay what they are; a word one slip from two role
words is left alone.
"""

from __future__ import annotations

import re

from rapidfuzz.distance import OSA

_MEMORY_SIZE = 200_000


class Misspellings:
    def __init__(self, words: list[str], never: list[str], *, min_length: int = 5) -> None:
        self.words, self.never, self.min_length = tuple(words), tuple(never), min_length
        self._known = frozenset(words) | frozenset(never)
        # A word longer than this is no slip of a role word (and is not looked at: a 10 KB "word"
        # would make 10,000 copies of itself).
        self._max_length = max(map(len, words), default=0) + 1
        # Each role word under every one-letter deletion: a word one slip away shares one of
        # these with it (symmetric deletion), so candidates are found by lookup, not by scanning.
        self._by_deletion: dict[str, set[str]] = {}
        for word in words:
            for variant in (word, *_deletions(word)):
                self._by_deletion.setdefault(variant, set()).add(word)
        # Words known to be no slip (role words, `never`, and every word found fine so far), and
        # the slips found so far with the word meant.
        self._settled: set[str] = set(self._known)
        self._fixes: dict[str, str] = {}
        self._long_word = re.compile(rf"(?<![^ ])[a-z]{{{min_length},}}(?![^ ])")

    def correct(self, text: str) -> str:
        """`text` (normalised) with each misspelt role word replaced by the word meant."""
        # A title's words set apart from every word already settled, in C: most titles have
        # none left (a split and a set difference), and a word is looked at once per process.
        unknown = set(text.split(" "))
        unknown -= self._settled
        if not unknown:
            return text
        fixes = {}
        for word in unknown:
            if len(word) > self._max_length:
                continue  # no slip, and not remembered: the memory is for the words titles use
            if len(word) < self.min_length or not word.isalpha() or word in self._known:
                self._remember_settled(word)
                continue
            meant = self._fixes.get(word) or self._meant_uncached(word)
            if meant == word:
                self._remember_settled(word)
            else:
                fixes[word] = meant
                if len(self._fixes) < _MEMORY_SIZE:
                    self._fixes[word] = meant
        if not fixes:
            return text
        return self._long_word.sub(lambda match: fixes.get(match.group(), match.group()), text)

    def _remember_settled(self, word: str) -> None:
        if len(self._settled) >= _MEMORY_SIZE:
            # A bound on a process that reads endless new words. A new set replaces the full one
            # (never cleared in place: a thread reading it meanwhile would miss the role words).
            self._settled = set(self._known)
        self._settled.add(word)

    def _meant_uncached(self, word: str) -> str:
        candidates = set()
        for variant in (word, *_deletions(word)):
            candidates |= self._by_deletion.get(variant, set())
        close = [candidate for candidate in candidates if OSA.distance(word, candidate, score_cutoff=1) <= 1]
        return close[0] if len(close) == 1 else word


def _deletions(word: str) -> list[str]:
    return [word[:i] + word[i + 1 :] for i in range(len(word))]
