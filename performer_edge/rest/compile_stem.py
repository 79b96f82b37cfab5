"""Word normalization for full-text search: documents' words, Postgres' english stop words and
the Porter stemmer (Postgres uses Snowball's English, a later revision of Porter; they agree on
most words).

Pure; used by `compile_tsquery` and `compile_fts`.
"""

from __future__ import annotations

import functools
import re

WORD = re.compile(r"[^\W_]+")  # a word: letters and digits

# Postgres' `english.stop` list.
ENGLISH_STOP_WORDS = frozenset(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom this
    that these those am is are was were be been being have has had having do does did doing a an
    the and but if or because as until while of at by for with about against between into through
    during before after above below to from up down in out on off over under again further then
    once here there when where why how all any both each few more most other some such no nor not
    only own same so than too very s t can will just don should now""".split()  # noqa: SIM905
)

_STEP2 = (
    ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
    ("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"),
    ("ization", "ize"), ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"),
    ("fulness", "ful"), ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
    ("logi", "log"),
)  # fmt: skip
_STEP3 = (
    ("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"),
    ("ful", ""), ("ness", ""),
)  # fmt: skip
_STEP4 = (
    "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou",
    "ism", "ate", "iti", "ous", "ive", "ize",
)  # fmt: skip


def _is_consonant(word: str, index: int) -> bool:
    char = word[index]
    if char in "aeiou":
        return False
    if char == "y":
        return index == 0 or not _is_consonant(word, index - 1)
    return True


def _measure(stem: str) -> int:
    """m in [C](VC)^m[V]: how many vowel-consonant sequences the stem has."""
    count, previous_vowel = 0, False
    for index in range(len(stem)):
        vowel = not _is_consonant(stem, index)
        if previous_vowel and not vowel:
            count += 1
        previous_vowel = vowel
    return count


def _has_vowel(stem: str) -> bool:
    return any(not _is_consonant(stem, i) for i in range(len(stem)))


def _double_consonant(word: str) -> bool:
    return len(word) >= 2 and word[-1] == word[-2] and _is_consonant(word, len(word) - 1)


def _cvc(word: str) -> bool:
    """Ends in a short syllable: consonant-vowel-consonant, the last not w, x or y (`hop`, not
    `snow`), or is vowel-consonant (`at`): Snowball's rule, which Postgres follows (`ate`)."""
    if len(word) == 2:
        return not _is_consonant(word, 0) and _is_consonant(word, 1)
    if len(word) < 3 or word[-1] in "wxy":
        return False
    n = len(word)
    return (
        _is_consonant(word, n - 3) and not _is_consonant(word, n - 2) and _is_consonant(word, n - 1)
    )


def _replace(word: str, suffix: str, replacement: str, minimum_measure: int) -> str | None:
    """`word` with `suffix` replaced when the stem's measure exceeds `minimum_measure`;
    None when the suffix does not match (a matched suffix ends the step either way)."""
    if not word.endswith(suffix):
        return None
    stem = word[: len(word) - len(suffix)]
    return stem + replacement if _measure(stem) > minimum_measure else word


def _step1(word: str) -> str:
    if word.endswith("sses") or word.endswith("ies"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if word.endswith("eed"):
        if _measure(word[:-3]) > 0:
            word = word[:-1]
    else:
        for suffix in ("ed", "ing"):
            if word.endswith(suffix) and _has_vowel(word[: -len(suffix)]):
                word = _step1b_tidy(word[: -len(suffix)])
                break
    if word.endswith("y") and _has_vowel(word[:-1]):
        word = word[:-1] + "i"
    return word


def _step1b_tidy(word: str) -> str:
    if word.endswith(("at", "bl", "iz")):
        return word + "e"
    if _double_consonant(word) and word[-1] not in "lsz":
        return word[:-1]
    if _measure(word) == 1 and _cvc(word):
        return word + "e"
    return word


def _suffix_step(word: str, rules: tuple[tuple[str, str], ...]) -> str:
    for suffix, replacement in rules:
        replaced = _replace(word, suffix, replacement, 0)
        if replaced is not None:
            return replaced
    return word


def _step4(word: str) -> str:
    for suffix in _STEP4:
        if not word.endswith(suffix):
            continue
        stem = word[: -len(suffix)]
        if suffix == "ion" and not stem.endswith(("s", "t")):
            return word
        return stem if _measure(stem) > 1 else word
    return word


def _step5(word: str) -> str:
    if word.endswith("e"):
        stem = word[:-1]
        measure = _measure(stem)
        if measure > 1 or (measure == 1 and not _cvc(stem)):
            word = stem
    if word.endswith("ll") and _measure(word) > 1:
        word = word[:-1]
    return word


# Sized for a language's working vocabulary: a miss costs ~50 µs, and documents repeat words.
@functools.lru_cache(maxsize=1 << 16)
def porter_stem(word: str) -> str:
    """The Porter stem of a lower-case word: `cats` → `cat`, `running` → `run`."""
    if len(word) <= 2 or not word.isalpha():
        return word
    word = _step1(word)
    word = _suffix_step(word, _STEP2)
    word = _suffix_step(word, _STEP3)
    word = _step4(word)
    return _step5(word)


@functools.lru_cache(maxsize=1 << 16)
def normalize(word: str, config: str) -> str | None:
    """A word as the configuration indexes it; None for a stop word. `english` drops stop words
    and stems; `simple` and every other configuration only lower-case."""
    lowered = word.lower()
    if config != "english":
        return lowered
    if lowered in ENGLISH_STOP_WORDS:
        return None
    return porter_stem(lowered)
