"""Forum fixtures: the small catalog, people, a low support threshold and a proposal factory."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from participation.core.uow import transaction
from participation.forums import services
from tests.conftest import VALID_CREDIT_CODE

GOOD = {
    "title": "夜间施工限时",
    "text": "建议把工地夜间施工限制在晚上十点以前，噪音扰民太严重",
    "category": "NOISE",
    "district": "EAST-HILL",
}


@pytest.fixture
def people(catalog, make_user):
    return SimpleNamespace(
        author=make_user("citizen"),
        alice=make_user("citizen"),
        bob=make_user("citizen"),
        carol=make_user("citizen"),
        firm=make_user("enterprise", organisation=VALID_CREDIT_CODE),
        env=make_user("department_staff", departments=("ENV",)),
        transport=make_user("department_staff", departments=("TRANSPORT",)),
        coordinator=make_user("coordinator"),
    )


@pytest.fixture(autouse=True)
def no_spam_check(app, monkeypatch):
    """The discussions in most tests repeat their texts; tests of the spam check ask for `spam_check`."""
    monkeypatch.setitem(app.config, "FORUM_SPAM_CHECK", False)


@pytest.fixture
def spam_check(app, monkeypatch):
    monkeypatch.setitem(app.config, "FORUM_SPAM_CHECK", True)


@pytest.fixture
def threshold(app, monkeypatch):
    """NOISE proposals go to the departments at two supporters (others at the default)."""
    monkeypatch.setitem(app.config, "FORUM_THRESHOLDS", {"NOISE": 2})
    return 2


@pytest.fixture
def propose(db, people):
    def make(author=None, **changes):
        with transaction():
            proposal = services.create_proposal(author or people.author, {**GOOD, **changes})
        return proposal

    return make
