"""Titles in scripts without spaces, and the variants of scripts, read the same way as rules are written."""

import pytest

from classification.engine import MAX_ROLES_READ, Ruleset, RulesetError
from classification.normalise import letters_fold, normalise_title


@pytest.mark.parametrize(
    "raw,normalised",
    [
        ("總裁助理", "总裁助理"),  # Traditional read as Simplified
        ("執行長", "执行长"),
        ("代表取締役社長", "代表取缔役社长"),  # Japanese kanji through the same table
        ("IBM总裁", "ibm 总裁"),  # a space where CJK text meets Latin letters
        ("CEO兼總經理", "ceo 兼总经理"),
        ("ｼｬﾁｮｳ", "シヤチヨウ"),  # half-width kana, small kana read large
        ("しゃちょう", "シヤチヨウ"),  # hiragana read as katakana
        ("ガ", "ガ"),  # voiced marks kept
        ("チーフ・オフィサー", "チーフ オフイサー"),  # the middle dot separates words
        ("대표이사", "대표이사"),  # Hangul stays in syllables
        ("首席执行官、总裁", "首席执行官 , 总裁"),
        ("ＣＥＯ／ＣＴＯ", "ceo | cto"),
        ('מנכ"ל', "מנכל"),  # Hebrew acronyms: the gershayim go
        ("סמנכ״ל כספים", "סמנכל כספים"),
        ("نائبُ الرئيسِ", "نايب الرييس"),  # harakat removed, hamza seats folded
        ("مديرة", "مديره"),  # taa marbuta
        ("Αντιπρόεδρος", "αντιπροεδροσ"),
        ("Генеральный директор", "генеральныи директор"),
        ("Tổng Giám đốc", "tong giam doc"),
        ("Genel Müdür Yardımcısı", "genel mudur yardimcisi"),
        # A word of look-alikes beside real Cyrillic stays Cyrillic, though the title has a Latin word.
        ("Вице-президент в отставке, Acme Corp", "вице президент в отставке , acme corp"),
        ("Sales $ VP ©", "sales vp"),  # what is neither a letter, a digit nor a separator: a space
    ],
)
def test_scripts_are_read_in_one_form(raw, normalised):
    assert normalise_title(raw) == normalised


def test_patterns_are_folded_as_titles_are():
    assert letters_fold("總裁") == letters_fold("总裁") == "总裁"
    assert letters_fold("Генеральный") == "генеральныи"
    assert letters_fold("総") == "总"  # Japanese shinjitai, through the traditional form


@pytest.mark.parametrize(
    "pattern,title",
    [
        ("薴", "薴"),  # OpenCC chains 薴 -> 苧 -> 苎: folding twice must be folding once
        ("διευθύνων σύμβουλος", "Διευθύνων Σύμβουλος"),  # a final ς, as people write it
        ("straße", "STRASSE"),
        ('מנכ"ל', 'מנכּ"ל'),  # a dagesh inside a Hebrew acronym
    ],
)
def test_a_rule_written_as_people_write_matches_the_title(pattern, title):
    rules = Ruleset.from_text(f"version: t\nroles:\n  - {{id: vp.x, level: vp, pattern: '{pattern}'}}\n")

    assert rules.classify_uncached(title).level == "vp"


def test_a_range_that_folding_would_change_is_refused_naming_it():
    with pytest.raises(RulesetError, match=r"role vp\.x: the range À-ÿ in '\[À-ÿ\]' would change meaning"):
        Ruleset.from_text("version: t\nroles:\n  - {id: vp.x, level: vp, pattern: '[À-ÿ]'}\n")


RULES = r"""
version: "scripts-test"
roles:
  - id: none.branch-head-ko
    level: none
    pattern: '지사장'
  - id: vp.zh
    level: vp
    pattern: '(?:高级|执行)?副总裁|부사장'
  - id: csuite.zh
    level: csuite
    function: general
    pattern: '總裁|首席\p{Han}{1,6}官|사장'
  - id: csuite.ceo
    level: csuite
    function: general
    pattern: 'ceo'
vetoes:
  - id: veto.after-cjk
    where: after
    pattern: '^(?:助理|秘书|办)'
  - id: veto.former-cjk
    where: before
    pattern: '(?:^|[^\pL])(?:前|原)$'
functions:
  - id: function.finance
    function: finance
    pattern: '财务|finance'
    examples: ["首席財務官"]
  - id: function.sales
    function: sales
    pattern: '销售|영업|sales'
"""


@pytest.fixture(scope="module")
def cjk():
    return Ruleset.from_text(RULES)


@pytest.mark.parametrize(
    "title,level,function",
    [
        ("总裁", "csuite", "general"),
        ("上海分公司总裁", "csuite", "general"),  # found inside a run of Chinese
        ("副总裁", "vp", "other"),  # the vp role starts first, as "vice president" beats "president"
        ("高級副總裁", "vp", "other"),
        ("销售副总裁", "vp", "sales"),  # the function before the role
        ("首席財務官", "csuite", "finance"),  # the function inside the role
        ("总裁助理", None, None),  # someone else's role: the veto after it
        ("总裁办主任", None, None),
        ("前总裁", None, None),
        ("IBM总裁", "csuite", "general"),
        ("CEO兼总裁", "csuite", "general"),
        ("영업 부사장", "vp", "sales"),
        ("지사장", None, None),  # a branch head, though 사장 is in it
        ("사장", "csuite", "general"),
    ],
)
def test_cjk_roles_match_inside_runs_of_text(cjk, title, level, function):
    result = cjk.classify_uncached(title)

    assert (result.level, result.function) == (level, function), result.rule


def test_a_title_is_read_up_to_its_hundredth_role(cjk):
    title = "ceo " * (MAX_ROLES_READ + 50)

    assert len(cjk._role_matches(normalise_title(title))) == MAX_ROLES_READ


def _roles_by_submatch(ruleset: Ruleset, text: str) -> list[tuple[int, int, str]]:
    """An independent oracle: every role as a named group of one alternation, read from the submatch
    (how the engine found roles before it asked an RE2 set), in character offsets."""
    import re2

    from classification.engine import _NOT_WORD, _RE2_OPTIONS

    alternation = "|".join(f"(?P<r{i}>{role.pattern})" for i, role in enumerate(ruleset.roles))
    regex = re2.compile(f"(?:^|{_NOT_WORD})(?:{alternation})(?:{_NOT_WORD}|$)", _RE2_OPTIONS)
    found, pos = [], 0
    while (match := regex.search(text, pos)) is not None and len(found) < MAX_ROLES_READ:
        name = next(name for name, value in match.groupdict().items() if value is not None)
        group = regex.groupindex[name]
        found.append((match.start(group), match.end(group), ruleset.roles[int(name[1:])].id))
        pos = max(match.end(group) - 1, match.start(group) + 1)
    return found


def test_roles_are_found_where_one_alternation_with_groups_finds_them():
    from classification.evaluation import SHIPPED_LABELS, labelled_titles_read
    from classification.services import ruleset_shipped_text

    shipped = Ruleset.from_text(ruleset_shipped_text())
    titles = [case.title for case in labelled_titles_read(SHIPPED_LABELS)]
    titles += ["副总裁兼首席财务官", "IBM总裁 / CEO", "vp cfo ceo", "前社長兼CEO", "대표이사 사장 겸 CTO"]

    for title in titles:
        text = normalise_title(title)
        expected = _roles_by_submatch(shipped, text)
        assert [(start, end, role.id) for start, end, role in shipped._role_matches(text)] == expected, title
