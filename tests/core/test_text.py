"""Member-supplied text made to fit (core.text)."""

from core.text import one_line, text_cut


def test_a_text_that_fits_is_kept_and_a_longer_one_is_cut_to_the_limit_with_a_marker():
    assert text_cut("Acme", 4) == "Acme"

    cut = text_cut("x" * 300, 255)

    assert len(cut) == 255 and cut.endswith("…") and cut[:-1] == "x" * 254


def test_one_line_cuts_the_same_way_once_on_one_line():
    assert one_line("a\nb" * 10, 5) == "a ba…"
