"""Highlighted fragments of a result's text, the same whichever engine found it.

A word is marked when it starts with one of the query's stems or equals one of its codes, compared as the index
compares (lower case, ё/й/ї folded). Masking tokens inside the text (a phone in a message) are never marked: a
highlight must not tell which token a typed value produced.
"""

from __future__ import annotations

import html
import re

from apps.search.text import ParsedQuery

WINDOW = 10
MAX_FRAGMENTS = 2
_WORD = re.compile(r"[^\W_]+(?:['’ʼ][^\W_]+)*")
_TOKEN = re.compile(r"PII-[a-z]+-[A-Z2-7]+")
_FOLD = str.maketrans({"ё": "е", "й": "и", "ї": "і", "'": None, "’": None, "ʼ": None})


def _fold(word: str) -> str:
    return word.lower().translate(_FOLD)


def _matches(word: str, prefixes: list[str], exact: set[str]) -> bool:
    folded = _fold(word)
    return folded in exact or any(folded.startswith(prefix) for prefix in prefixes)


def highlight(text: str, parsed: ParsedQuery) -> list[str]:
    """Up to two fragments of ``text`` around its matches, HTML-escaped, the matches in ``<mark>``."""
    if not text:
        return []
    prefixes = [_fold(prefix) for term in parsed.terms for prefix in term.prefixes if prefix]
    exact = {_fold(value) for term in parsed.terms for value in term.exact}
    if not prefixes and not exact:
        return []
    masked = [match.span() for match in _TOKEN.finditer(text)]
    words = [match for match in _WORD.finditer(text) if not any(start <= match.start() < end for start, end in masked)]
    hits = [index for index, match in enumerate(words) if _matches(match.group(), prefixes, exact)]
    if not hits:
        return []
    fragments: list[str] = []
    covered = -1
    for index in hits:
        if index <= covered:
            continue
        first = max(0, index - WINDOW // 2)
        last = min(len(words) - 1, index + WINDOW)
        covered = last
        # A fragment that reaches either end of the text keeps what lies beyond its first or last word.
        start = 0 if first == 0 else words[first].start()
        end = len(text) if last == len(words) - 1 else words[last].end()
        pieces = []
        position = start
        for word in words[first : last + 1]:
            pieces.append(html.escape(text[position : word.start()]))
            escaped = html.escape(word.group())
            marked = _matches(word.group(), prefixes, exact)
            pieces.append(f"<mark>{escaped}</mark>" if marked else escaped)
            position = word.end()
        pieces.append(html.escape(text[position:end]))
        fragment = "".join(pieces)
        fragments.append(("… " if start > 0 else "") + fragment + (" …" if end < len(text) else ""))
        if len(fragments) >= MAX_FRAGMENTS:
            break
    return fragments
