"""Query analysis, highlighting, the planner's choice and reciprocal rank fusion."""

from __future__ import annotations

from apps.privacy.masking import PIIKind, pii_token
from apps.search.engines.base import Hit, SearchMode, SearchQuery
from apps.search.highlight import highlight
from apps.search.planner import fuse, query_mode
from apps.search.text import code_variants, parse_query, stem, tsquery


def test_code_variants_cover_lost_and_kept_leading_zeros() -> None:
    assert code_variants("123456") == ["123456", "00123456", "0000123456"]
    assert code_variants("00123456") == ["00123456", "123456", "0000123456"]
    assert "0303101100" in code_variants("303101100")
    assert "0303" in code_variants("303")


def test_ukrainian_and_russian_endings_are_stemmed_to_a_prefix() -> None:
    assert stem("митниці") == "митниц"
    assert stem("митницею") == "митниц"
    assert stem("рыбой") == "рыб"
    assert stem("fillets") == "fillets"
    assert stem("ріг") == "ріг"


def test_parsing_keeps_document_numbers_and_spaced_codes_whole() -> None:
    parsed = parse_query("UA110110/2024/000456 0303 10 11 00 Зоря")
    assert [term.word for term in parsed.terms] == ["UA110110/2024/000456", "0303101100", "зоря"]
    assert parsed.terms[2].prefixes == ("зор", "zoria")
    # A Cyrillic guess shorter than five letters is matched whole, not as a stem.
    assert (parse_query("Zoria").terms[0].prefixes, parse_query("Zoria").terms[0].exact) == (("zoria",), ("зоря",))
    # Latin words are matched whole (the configuration stems them), Cyrillic stems as prefixes.
    assert tsquery(parse_query("м'ясо")) == "('мяс':* | 'miaso')"
    assert tsquery(parse_query("O'Brien")) == "('obrien' | 'обрєн':*)"
    assert tsquery(parse_query("UA1'2/2024")) == "('ua1''2/2024')"


def test_the_planner_sends_codes_and_names_to_text_and_descriptions_to_hybrid() -> None:
    assert query_mode(SearchQuery(text="00123456")) == SearchMode.EXACT
    assert query_mode(SearchQuery(text="Зоря-Схід")) == SearchMode.EXACT
    assert query_mode(SearchQuery(text="хто ввозив морожену рибу через Одесу")) == SearchMode.HYBRID
    assert query_mode(SearchQuery(text="00123456", mode=SearchMode.HYBRID)) == SearchMode.HYBRID


def test_highlights_are_escaped_and_never_mark_a_token() -> None:
    phone = pii_token("+380671234567", PIIKind.PHONE)
    text = f"<b>Риба</b> морожена, дзвоніть {phone} — риба"
    fragments = highlight(text, parse_query("риба tel"))
    assert fragments == [f"&lt;b&gt;<mark>Риба</mark>&lt;/b&gt; морожена, дзвоніть {phone} — <mark>риба</mark>"]


def test_reciprocal_rank_fusion_rewards_agreement_and_names_every_engine() -> None:
    words = [Hit("customs_declaration", 1, "postgres", 0), Hit("customs_declaration", 2, "postgres", 1)]
    meaning = [Hit("customs_declaration", 2, "qdrant", 0), Hit("customs_declaration", 3, "qdrant", 1)]
    fused = fuse([words, meaning], limit=10)
    assert [hit.pk for hit in fused] == [2, 1, 3]
    assert fused[0].engines == ["postgres", "qdrant"]
    assert fused[0].score == 1 / 62 + 1 / 61


def test_one_and_two_letter_words_beside_longer_ones_are_left_out_of_the_full_text_query() -> None:
    # As prefixes they would expand to every lexeme starting with «z» or «o».
    assert tsquery(parse_query("Polo Serwis Sp. z o.o.")) == tsquery(parse_query("Polo Serwis"))
    # Alone, or as codes, they still count.
    assert tsquery(parse_query("ко")) == "('ко':* | 'ko')"
    assert tsquery(parse_query("Polo 12")) == "('поло' | 'polo') & ('12')"


def test_question_words_beside_others_are_left_out_of_the_full_text_query() -> None:
    assert tsquery(parse_query("хто ввозив гальмівні колодки для перепродажу")) == tsquery(
        parse_query("ввозив гальмівні колодки перепродажу")
    )
    assert tsquery(parse_query("who imported the brake pads")) == tsquery(parse_query("imported brake pads"))
    # So are the words of legal forms, in any script.
    assert tsquery(parse_query("Demir Gıda Ltd. Şti.")) == tsquery(parse_query("Demir Gıda"))
    assert tsquery(parse_query("Кровн Чемікалс Пвт. Лтд.")) == tsquery(parse_query("Кровн Чемікалс"))
    # Alone they are what was asked for.
    assert tsquery(parse_query("для")) == "('для':* | 'dlia')"
