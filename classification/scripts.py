"""How titles in Chinese, Japanese, Korean and Hebrew are read: the variants of their scripts.

- Chinese: Traditional characters read as Simplified, character by character, from OpenCC's
  t2s table (總裁 -> 总裁, 執行長 -> 执行长). Character by character, not OpenCC's phrase
  conversion, so a rule's text and a title fold the same way whatever surrounds them. Japanese
  kanji pass through the same table, their shinjitai first read as the traditional form (OpenCC's
  jp2t: 総 -> 總 -> 总, 営 -> 營 -> 营), in rules and titles alike.
- Japanese kana: hiragana read as katakana, small kana as large (ィ -> イ); half-width kana are
  full-width already (compatibility decomposition), and voiced marks are kept (ガ is not カ).
- Hangul stays in syllables (the decomposition into jamo is undone).
- Where CJK text meets Latin letters or digits without a space ("IBM总裁", "CEO兼总裁") a space
  is put between them: rules match whole words, and a CJK character counts as a word boundary
  (engine.py), so 总裁 is found in 公司总裁 and in IBM总裁 alike.
- Hebrew acronyms are written with gershayim (מנכ"ל): the mark between two letters is dropped.
"""

from __future__ import annotations

import re
from functools import lru_cache

import opencc

# Han (with the iteration mark 々 and compatibility ideographs), kana (with the prolonged sound
# mark ー), Hangul syllables and jamo, and half-width kana (before decomposition).
CJK_RANGES = (
    "\u1100-\u11ff\u3005\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff65-\uff9f"
)
KANA_MARKS = "\u3099\u309a"  # voiced marks, kept: ガ is not カ
_HAN_BLOCKS = ((0x3400, 0x4DC0), (0x4E00, 0xA000))
_HIRAGANA = range(0x3041, 0x3097)
_SMALL_KANA = dict(zip("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ", strict=True))
_TRANSITION = re.compile(f"(?<=[^\\W_{CJK_RANGES}])(?=[{CJK_RANGES}])|(?<=[{CJK_RANGES}])(?=[^\\W_{CJK_RANGES}])")
_HEBREW_ACRONYM = re.compile("(?<=[\u05d0-\u05ea])[\"'\u05f3\u05f4\u201c\u201d\u2019](?=[\u05d0-\u05ea])")


@lru_cache(maxsize=1)
def han_kana_table() -> dict[int, str]:
    """Traditional -> Simplified (OpenCC, one character for one), hiragana -> katakana, small -> large kana.

    Built once per process from one OpenCC call over the Han blocks (~40 ms): each character on its
    own line, so no phrase rule joins two of them.
    """
    chars = [chr(code) for start, stop in _HAN_BLOCKS for code in range(start, stop)]
    traditional = _convert("jp2t", chars)
    simplified = _convert("t2s", [t if len(t) == 1 else c for c, t in zip(chars, traditional, strict=True)])
    table = {ord(a): b for a, b in zip(chars, simplified, strict=True) if a != b and len(b) == 1}
    # To each character's last form (OpenCC chains a few: 薴 -> 苧 -> 苎), so that folding twice
    # is folding once: a rule's letters are folded when it loads, and again inside a larger pattern.
    for code, char in table.items():
        while ord(char) in table and table[ord(char)] != char:
            char = table[ord(char)]
        table[code] = char
    table.update({ord(small): large for small, large in _SMALL_KANA.items()})
    table.update({code: _SMALL_KANA.get(chr(code + 0x60), chr(code + 0x60)) for code in _HIRAGANA})
    return table


def _convert(config: str, chars: list[str]) -> list[str]:
    converted = opencc.OpenCC(config).convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):
        raise RuntimeError(f"OpenCC's {config} changed the number of lines: the table cannot be built")
    return converted


def cjk_spaced(text: str) -> str:
    """A space where CJK text meets a Latin letter or a digit ("ibm总裁" -> "ibm 总裁")."""
    return _TRANSITION.sub(" ", text)


def hebrew_acronyms_join(text: str) -> str:
    """מנכ"ל -> מנכל: the acronym mark between two Hebrew letters goes (it would end a clause)."""
    return _HEBREW_ACRONYM.sub("", text)
