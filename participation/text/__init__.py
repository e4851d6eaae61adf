"""Offline text analysis: language, sentiment and keywords for Chinese and English.

TextBlob's pattern lexicon scores English, SnowNLP's bundled model scores Chinese, and
jieba's TF-IDF extracts keywords in both (English stop words from scikit-learn). All
models ship inside the packages; nothing is fetched at run time.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from functools import lru_cache

from participation.core.imports import load

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_lock = threading.Lock()


@dataclass(frozen=True)
class Analysis:
    language: str
    sentiment: float
    keywords: list[str]


def language_shares(text: str) -> tuple[float, float]:
    """Shares of Chinese and English in the text, counting a Chinese character like half an English word."""
    zh = len(_CJK.findall(text))
    en = 2 * len(_LATIN_WORD.findall(text))
    total = zh + en
    return (zh / total, en / total) if total else (0.0, 0.0)


def detect_language(text: str) -> str:
    """'zh', 'en', 'mixed', or 'und' when the text has neither."""
    zh, en = language_shares(text)
    if zh == en == 0:
        return "und"
    if zh >= 0.7:
        return "zh"
    if en >= 0.7:
        return "en"
    return "mixed"


def _english_sentiment(text: str) -> float:
    return float(load("textblob").TextBlob(text).sentiment.polarity)


@lru_cache(maxsize=1)
def _snownlp():
    return load("snownlp").SnowNLP


def _chinese_sentiment(text: str) -> float:
    with _lock:
        probability = _snownlp()(text).sentiments
    return max(-1.0, min(1.0, 2.0 * probability - 1.0))


def sentiment(text: str, language: str | None = None) -> float:
    """A score in [-1, 1]: negative is unhappy, positive is pleased."""
    language = language or detect_language(text)
    if language == "zh":
        return round(_chinese_sentiment(text), 4)
    if language == "en":
        return round(_english_sentiment(text), 4)
    if language == "mixed":
        zh, en = language_shares(text)
        return round(zh * _chinese_sentiment(text) + en * _english_sentiment(text), 4)
    return 0.0


@lru_cache(maxsize=1)
def _jieba_analyse():
    jieba = load("jieba")
    load("jieba.analyse")
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba.analyse


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """English stop words (scikit-learn's list), for keywords and the router's words."""
    return frozenset(load("sklearn.feature_extraction.text").ENGLISH_STOP_WORDS)


def keywords(text: str, top: int = 8) -> list[str]:
    """The text's most telling words (TF-IDF over jieba's segmentation), lower-cased."""
    with _lock:
        candidates = _jieba_analyse().extract_tags(text, topK=top * 3)
    stop = stop_words()
    out: list[str] = []
    for word in candidates:
        word = word.strip().lower()
        if len(word) < 2 or word in stop or word.isdigit() or word in out:
            continue
        out.append(word)
        if len(out) == top:
            break
    return out


def segment(text: str) -> list[str]:
    """Words of the text (jieba for Chinese; English words pass through)."""
    _jieba_analyse()
    with _lock:
        return [w for w in load("jieba").lcut(text) if w.strip()]


def analyse(text: str) -> Analysis:
    """Language, sentiment and keywords of one text."""
    language = detect_language(text)
    return Analysis(language=language, sentiment=sentiment(text, language), keywords=keywords(text))
