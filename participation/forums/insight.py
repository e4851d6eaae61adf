"""What a discussion says: stance counts, mean sentiment per day, and the top keywords.

Offline, through `participation.text` (SnowNLP for Chinese, TextBlob for English, jieba's TF-IDF for
keywords in both). Comments hidden by moderation do not count.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from flask_babel import to_user_timezone
from sqlalchemy import select

from participation import text as analysis
from participation.extensions import db
from participation.forums.models import Comment, Proposal, Stance, Thread

TOP_KEYWORDS = 10


def insight(subject: Proposal | Thread) -> dict[str, Any]:
    """Stances, sentiment over time and keywords of the subject's visible comments."""
    column = Comment.proposal_id if isinstance(subject, Proposal) else Comment.thread_id
    comments = list(
        db.session.scalars(
            select(Comment).where(column == subject.id, Comment.hidden_at.is_(None)).order_by(Comment.id)
        )
    )
    stances = {s.value: 0 for s in Stance} | {"none": 0}
    per_day: dict[str, list[float]] = defaultdict(list)
    languages: Counter[str] = Counter()
    for comment in comments:
        stances[comment.stance.value if comment.stance else "none"] += 1
        language = analysis.detect_language(comment.text)
        languages[language] += 1
        day = to_user_timezone(comment.created_at).date()  # the city's day, as the page shows the comments' times
        per_day[day.isoformat()].append(analysis.sentiment(comment.text, language))
    corpus = "\n".join([subject.title, subject.text, *(c.text for c in comments)])
    return {
        "comments": len(comments),
        "stances": stances,
        "sentiment": [
            {"day": day, "mean": round(sum(scores) / len(scores), 4), "comments": len(scores)}
            for day, scores in sorted(per_day.items())
        ],
        "languages": dict(languages),
        "keywords": analysis.keywords(corpus, top=TOP_KEYWORDS),
    }


def chart(data: dict[str, Any], label: str) -> dict[str, Any]:
    """The sentiment line for the page's canvas (data-chart)."""
    return {
        "labels": [point["day"] for point in data["sentiment"]],
        "means": [point["mean"] for point in data["sentiment"]],
        "label": label,
    }
