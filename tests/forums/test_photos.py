"""Photos on proposals: checked and stored by intake's upload code, shown to whoever may see the proposal."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select

from participation.core.uow import transaction
from participation.forums import services
from participation.forums.models import Proposal, ProposalPhoto
from tests.conftest import csrf_token_from, image_bytes
from tests.forums.conftest import GOOD


def jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x8825] = {1: "N", 2: (30.0, 15.0, 0.0), 3: "E", 4: (120.0, 9.0, 0.0)}  # GPS position
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def files_in(folder: str) -> set[Path]:
    return set(Path(folder).glob("*")) if Path(folder).exists() else set()


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def post_new(client, photos):
    data = {**GOOD, "photos": [(io.BytesIO(content), name) for name, content in photos]}
    return client.post("/proposals/new", data=data, content_type="multipart/form-data")


def test_photo_stored_without_exif_and_shown(app, client, db, people, login):
    raw = jpeg_with_exif()
    assert Image.open(io.BytesIO(raw)).getexif().get(0x010F) == "SpyCam"
    login(people.author)
    response = post_new(client, [("street.jpg", raw), ("night.png", image_bytes("PNG"))])
    assert response.status_code == 302
    proposal = db.session.scalar(select(Proposal))
    assert [p.original_name for p in proposal.photos] == ["street.jpg", "night.png"]
    photo = proposal.photos[0]
    stored = Path(app.config["UPLOAD_FOLDER"]) / photo.stored_name
    data = stored.read_bytes()
    assert photo.content_type == "image/jpeg" and (photo.width, photo.height) == (40, 30)
    assert b"SpyCam" not in data and not Image.open(io.BytesIO(data)).getexif()
    url = f"/proposals/{proposal.id}/photos/{photo.id}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert url in page and 'id="proposal-photos"' in page
    client.post("/logout")
    served = client.get(url)  # a published proposal's photos are public, like the page
    assert served.status_code == 200 and served.mimetype == "image/jpeg" and served.data == data


def test_text_file_named_jpg_is_refused_and_nothing_stored(app, client, db, people, login):
    before = files_in(app.config["UPLOAD_FOLDER"])
    login(people.author)
    response = post_new(client, [("ok.png", image_bytes("PNG")), ("notes.jpg", b"this is plain text, not a picture")])
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-field="photos"' in page and "notes.jpg" in page
    assert GOOD["title"] in page  # what the person typed is kept
    assert count(db, Proposal) == count(db, ProposalPhoto) == 0
    assert files_in(app.config["UPLOAD_FOLDER"]) == before


def test_too_large_photo_is_refused(app, client, db, people, login, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 1024)
    before = files_in(app.config["UPLOAD_FOLDER"])
    login(people.author)
    response = post_new(client, [("big.png", image_bytes("PNG", size=(400, 400)) + b"\0" * 2048)])
    assert response.status_code == 413 and 'data-field="photos"' in response.get_data(as_text=True)
    assert count(db, Proposal) == 0 and files_in(app.config["UPLOAD_FOLDER"]) == before


def test_too_many_photos_are_refused(app, client, db, people, login):
    before = files_in(app.config["UPLOAD_FOLDER"])
    limit = app.config["UPLOAD_MAX_FILES"]
    login(people.author)
    response = post_new(client, [(f"p{i}.png", image_bytes("PNG")) for i in range(limit + 1)])
    assert response.status_code == 422 and 'data-field="photos"' in response.get_data(as_text=True)
    assert count(db, Proposal) == count(db, ProposalPhoto) == 0
    assert files_in(app.config["UPLOAD_FOLDER"]) == before


def test_hidden_proposals_photo_is_404_for_others(client, db, people, login):
    with transaction():
        proposal = services.create_proposal(
            people.author, dict(GOOD), files=[("a.png", io.BytesIO(image_bytes("PNG")))]
        )
        proposal.hide("test")
    url = f"/proposals/{proposal.id}/photos/{proposal.photos[0].id}"
    login(people.alice)
    assert client.get(f"/proposals/{proposal.id}").status_code == 404
    assert client.get(url).status_code == 404
    client.post("/logout")
    assert client.get(url).status_code == 404
    login(people.author)
    assert client.get(url).status_code == 200


def test_photo_of_another_proposal_is_404(client, db, people, propose):
    with transaction():
        first = services.create_proposal(people.author, dict(GOOD), files=[("a.png", io.BytesIO(image_bytes("PNG")))])
    other = propose(title="另一条")
    assert client.get(f"/proposals/{other.id}/photos/{first.photos[0].id}").status_code == 404


def test_photos_go_with_the_submission_at_the_threshold(db, people, threshold):
    with transaction():
        proposal = services.create_proposal(
            people.author, dict(GOOD), files=[("site.jpg", io.BytesIO(jpeg_with_exif()))]
        )
    for supporter in (people.alice, people.bob):
        with transaction():
            services.support(supporter, proposal.id)
    submission = proposal.ticket.submission
    assert [a.original_name for a in submission.attachments] == ["site.jpg"]
    assert submission.attachments[0].stored_name != proposal.photos[0].stored_name  # intake keeps its own copy


def test_form_keeps_csrf(app, client, db, people, login, monkeypatch):
    login(people.author)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    token = csrf_token_from(client.get("/proposals/new").get_data(as_text=True))
    photos = [(io.BytesIO(image_bytes("PNG")), "a.png")]
    refused = client.post("/proposals/new", data={**GOOD, "photos": photos}, content_type="multipart/form-data")
    assert refused.status_code == 400 and count(db, Proposal) == 0
    photos = [(io.BytesIO(image_bytes("PNG")), "a.png")]
    data = {**GOOD, "csrf_token": token, "photos": photos}
    assert client.post("/proposals/new", data=data, content_type="multipart/form-data").status_code == 302
    assert count(db, ProposalPhoto) == 1
