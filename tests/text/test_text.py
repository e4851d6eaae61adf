"""Offline text analysis in Chinese and English."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from participation.text import analyse, detect_language, keywords, sentiment

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "text, language",
    [
        ("小区门口的路灯坏了很久", "zh"),
        ("The street light outside my building is broken", "en"),
        ("我家附近的 bus stop 坏了, the sign fell down", "mixed"),
        ("请问 WiFi 怎么连接政务大厅的网络", "zh"),
        ("12345 !!!", "und"),
    ],
)
def test_language(text, language):
    assert detect_language(text) == language


def test_sentiment_direction_both_languages():
    assert sentiment("这个服务太差了，等了一个月也没人管，非常失望") < -0.3
    assert sentiment("感谢工作人员及时处理，非常满意") > 0.3
    assert sentiment("The service was terrible and slow") < 0
    assert sentiment("Great work, thank you for the quick fix") > 0
    assert -1 <= sentiment("混合 text with 中文") <= 1


def test_keywords():
    zh = keywords("小区旁边工地每天晚上十一点以后还在打桩，吵得根本睡不着")
    assert "打桩" in zh
    en = keywords("The street light outside my building has been broken for two weeks and the street is dark")
    assert "street" in en and "the" not in en and "my" not in en


def test_analyse_bundle():
    result = analyse("Illegal parking blocks the fire lane every night")
    assert result.language == "en" and "parking" in result.keywords


@pytest.mark.parametrize("delay", [0.05, 0.2])
def test_text_models_load_safely_from_two_threads_at_once(delay):
    """A first English sentiment (TextBlob, which imports nltk) and a first suggestion (nltk's stemmer)
    in two threads of a fresh process: without one import lock, Python's import locks stopped one of
    them with a _DeadlockError or a half-initialised nltk module."""
    script = f"""
import sys, threading, time
from participation import text
from participation.routing import router
errors = []
def english():
    try:
        text.sentiment("The road is terrible", "en")
    except Exception as error:
        errors.append(repr(error))
def stems():
    time.sleep({delay})
    try:
        router.words("broken street lights")
    except Exception as error:
        errors.append(repr(error))
threads = [threading.Thread(target=english), threading.Thread(target=stems)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(errors)
sys.exit(1 if errors else 0)
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
