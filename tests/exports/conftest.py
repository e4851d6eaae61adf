"""Export tests reuse the routing fixtures (staff of three departments, a coordinator, a joint ticket) and
give every test its own export folder."""

import pytest

from tests.routing.conftest import joint_ticket, people, submit  # noqa: F401


@pytest.fixture(autouse=True)
def export_folder(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_FOLDER", str(tmp_path / "exports"))


from tests.exports.test_exports import project, researcher, survey  # noqa: E402, F401  (shared by the modules here)
