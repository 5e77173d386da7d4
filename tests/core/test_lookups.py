"""core.lookups: `field__any=[…]` matches the listed values, with one array parameter."""

import pytest

from detections.models import SeniorMember
from tests.factories import DetectionFactory, SeniorMemberFactory

pytestmark = pytest.mark.django_db


def test_any_matches_the_listed_values_of_text_and_integer_columns():
    for user_id in ("1", "2", "3"):
        SeniorMemberFactory(user_id=user_id)
    first, second = DetectionFactory(), DetectionFactory()

    assert set(SeniorMember.objects.filter(pk__any=["1", "3", "9"]).values_list("pk", flat=True)) == {"1", "3"}
    assert set(SeniorMember.objects.filter(pk__any={"2"}).values_list("pk", flat=True)) == {"2"}
    assert list(type(first).objects.filter(pk__any=[second.pk, 10**12]).values_list("pk", flat=True)) == [second.pk]


def test_values_are_prepared_by_the_field_none_is_left_out_and_a_generator_is_read_once():
    SeniorMemberFactory(user_id="1")
    first = DetectionFactory()
    detections = type(first).objects.filter(pk__any=(pk for pk in [first.pk, None]))

    assert list(detections) == [first]
    assert detections.count() == 1  # compiled again: the generator's values were kept
    assert list(SeniorMember.objects.filter(pk__any=[1])) == [SeniorMember.objects.get(pk="1")]  # 1 → "1"
    assert list(SeniorMember.objects.exclude(pk__any=["2", None])) == [SeniorMember.objects.get(pk="1")]


def test_updates_and_deletes_take_it():
    for user_id in ("1", "2", "3"):
        SeniorMemberFactory(user_id=user_id)

    assert SeniorMember.objects.filter(pk__any=["1", "2"]).update(title="CEO") == 2
    SeniorMember.objects.filter(pk__any=["1"]).delete()
    assert sorted(SeniorMember.objects.values_list("pk", "title")) == [
        ("2", "CEO"),
        ("3", SeniorMember.objects.get(pk="3").title),
    ]


def test_an_empty_list_matches_nothing():
    SeniorMemberFactory(user_id="1")

    assert list(SeniorMember.objects.filter(pk__any=[])) == []


def test_the_statement_is_the_same_whatever_the_lists_length():
    compiled = [
        SeniorMember.objects.filter(pk__any=user_ids).query.sql_with_params()
        for user_ids in (["1"], [str(n) for n in range(500)])
    ]

    (short_sql, short_params), (long_sql, long_params) = compiled
    assert short_sql == long_sql
    assert '"user_id" = ANY(%s)' in long_sql
    assert long_params == ([str(n) for n in range(500)],)


def test_a_single_value_or_a_query_is_refused():
    with pytest.raises(TypeError, match="list"):
        list(SeniorMember.objects.filter(pk__any="1"))
    with pytest.raises(TypeError, match="list"):
        list(SeniorMember.objects.filter(pk__any=SeniorMember.objects.values("pk")))
