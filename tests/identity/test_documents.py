"""ID-document review through the API: uploads checked by content and sealed at rest, the
review queue, audited views, final decisions, and `identity_reverified_at`."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kefu.app import create_app
from kefu.core.clock import clock
from kefu.core.settings import Settings
from kefu.identity.documents.models import IdentityDocument
from kefu.identity.documents.service import identity_reverified_at
from kefu.identity.models import Role
from tests.core.helpers import assert_problem, audit_entries, new_session
from tests.factories import agent_headers, customer_headers, make_agent, make_customer
from tests.identity.documents_helpers import JPEG, PDF, PNG, submit, upload


def test_upload_is_accepted_hashed_and_sealed_at_rest(
    client: TestClient, session: Session, engine: Engine
) -> None:
    customer = make_customer(session)
    response = upload(client, customer_headers(customer))

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "passport"
    assert body["content_type"] == "image/png"
    assert body["size"] == len(PNG)
    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert body["review_id"] is None
    with new_session(engine) as s:
        stored = s.scalar(select(IdentityDocument.sealed).where(IdentityDocument.id == body["id"]))
    assert stored is not None
    assert PNG not in stored and b"passport-scan" not in stored
    [entry] = audit_entries(engine, action="identity_document.uploaded")
    assert entry.subject_id == body["id"] and entry.actor_id == customer.id


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 60, "setup.png", "image/png"),
        (b"<!doctype html><script>alert(1)</script>", "photo.png", "image/png"),
        (b"GIF89a\x01\x00\x01\x00", "photo.gif", "image/gif"),
    ],
    ids=["exe-renamed-png", "html-renamed-png", "gif"],
)
def test_files_that_are_not_jpeg_png_or_pdf_are_refused(
    client: TestClient,
    session: Session,
    engine: Engine,
    data: bytes,
    filename: str,
    content_type: str,
) -> None:
    customer = make_customer(session)
    response = upload(
        client, customer_headers(customer), data=data, filename=filename, content_type=content_type
    )
    assert_problem(response, 415, "unsupported_document_type")
    assert audit_entries(engine, action="identity_document.uploaded") == []


def test_declared_type_must_agree_with_the_content(client: TestClient, session: Session) -> None:
    headers = customer_headers(make_customer(session))
    body = assert_problem(
        upload(client, headers, data=PDF, filename="bill.png", content_type="image/png"),
        415,
        "document_type_mismatch",
    )
    assert "application/pdf" in body["detail"]
    # The same bytes declared honestly are accepted, and a PDF selfie is not a photograph.
    ok = upload(client, headers, kind="proof_of_address", data=PDF, content_type="application/pdf")
    assert ok.status_code == 201, ok.text
    assert_problem(
        upload(client, headers, kind="selfie", data=PDF, content_type="application/pdf"),
        415,
        "selfie_must_be_image",
    )


def test_empty_file_and_unknown_kind_are_refused(client: TestClient, session: Session) -> None:
    headers = customer_headers(make_customer(session))
    assert_problem(upload(client, headers, data=b""), 400, "empty_document")
    assert_problem(upload(client, headers, kind="birth_certificate"), 422, "unknown_document_kind")
    missing_file = client.post(
        "/api/v1/identity/documents", headers=headers, data={"kind": "passport"}
    )
    assert_problem(missing_file, 422, "validation_error")


def test_uploads_may_be_far_larger_than_the_json_body_limit(
    client: TestClient, session: Session, settings: Settings
) -> None:
    headers = customer_headers(make_customer(session))
    scan = PNG + bytes(range(256)) * 8_000  # about 2 MB; JSON bodies stop at 64 kB here
    assert len(scan) > 30 * settings.max_body_bytes
    response = upload(client, headers, data=scan)
    assert response.status_code == 201, response.text
    assert response.json()["size"] == len(scan)


def test_oversize_documents_are_refused_while_json_keeps_its_small_limit(
    settings: Settings, engine: Engine, session: Session
) -> None:
    small = settings.model_copy(update={"identity_document_max_bytes": 100_000})
    customer = make_customer(session)
    headers = customer_headers(customer)
    with TestClient(create_app(small, engine), raise_server_exceptions=False) as client:
        just_over = PNG + b"\x00" * (100_001 - len(PNG))
        body = assert_problem(upload(client, headers, data=just_over), 413, "document_too_large")
        assert "100000" in body["detail"]
        at_limit = PNG + b"\x00" * (100_000 - len(PNG))
        assert upload(client, headers, data=at_limit).status_code == 201
        # Far over: refused by the body limit before the file is read.
        huge = PNG + b"\x00" * 400_000
        assert_problem(upload(client, headers, data=huge), 413, "payload_too_large")
        # Other routes keep the small JSON limit (64 kB in tests) despite the larger upload limit.
        big_json = {"subject": "x", "body": "y" * 70_000}
        response = client.post("/api/v1/tickets", json=big_json, headers=headers)
        assert_problem(response, 413, "payload_too_large")


def test_customers_see_only_their_own_documents_and_reviews(
    client: TestClient, session: Session
) -> None:
    alice, bob = make_customer(session), make_customer(session)
    alice_headers, bob_headers = customer_headers(alice), customer_headers(bob)
    document = upload(client, alice_headers).json()
    review = submit(client, alice_headers)

    assert client.get("/api/v1/identity/reviews/mine", headers=bob_headers).json() == []
    assert client.get("/api/v1/identity/documents", headers=bob_headers).json() == []
    mine = client.get("/api/v1/identity/reviews/mine", headers=alice_headers).json()
    assert [(r["id"], r["status"]) for r in mine] == [(review["id"], "pending")]
    assert "reason" not in mine[0] and "decided_by" not in mine[0]
    # Customers cannot open documents, their own or anyone else's, nor read the queue.
    for headers in (alice_headers, bob_headers):
        content = client.get(
            f"/api/v1/identity/documents/{document['id']}/content",
            params={"reason": "curious"},
            headers=headers,
        )
        assert_problem(content, 403, "permission_denied")
        queue = client.get("/api/v1/identity/reviews", headers=headers)
        assert_problem(queue, 403, "permission_denied")


def test_submitting_groups_documents_once(client: TestClient, session: Session) -> None:
    headers = customer_headers(make_customer(session))
    assert_problem(client.post("/api/v1/identity/reviews", headers=headers), 400, "no_documents")
    upload(client, headers)
    upload(client, headers, kind="selfie", data=JPEG, filename="me.jpg", content_type="image/jpeg")
    review = submit(client, headers)
    assert review["status"] == "pending"
    assert client.get("/api/v1/identity/documents", headers=headers).json() == []
    upload(client, headers, kind="id_card")
    again = client.post("/api/v1/identity/reviews", headers=headers)
    assert_problem(again, 409, "review_pending")


def test_queue_lists_pending_reviews_oldest_first_for_risk_officers(
    client: TestClient, session: Session
) -> None:
    first, second = make_customer(session), make_customer(session)
    clock.freeze(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    upload(client, customer_headers(second))
    older = submit(client, customer_headers(second))
    clock.freeze(datetime(2026, 11, 2, 10, 0, tzinfo=UTC))
    upload(client, customer_headers(first))
    newer = submit(client, customer_headers(first))

    officer = agent_headers(client, make_agent(session, role=Role.RISK_OFFICER))
    queue = client.get("/api/v1/identity/reviews", headers=officer)
    assert queue.status_code == 200, queue.text
    assert [r["id"] for r in queue.json()] == [older["id"], newer["id"]]
    assert queue.json()[0]["documents"][0]["kind"] == "passport"

    plain_agent = agent_headers(client, make_agent(session))
    refused = client.get("/api/v1/identity/reviews", headers=plain_agent)
    assert_problem(refused, 403, "permission_denied")


def test_viewing_a_document_needs_the_permission_and_a_reason_and_is_audited(
    client: TestClient, session: Session, engine: Engine
) -> None:
    headers = customer_headers(make_customer(session))
    document = upload(client, headers).json()
    submit(client, headers)
    url = f"/api/v1/identity/documents/{document['id']}/content"

    plain = make_agent(session)
    refused = client.get(url, params={"reason": "x"}, headers=agent_headers(client, plain))
    assert_problem(refused, 403, "permission_denied")

    officer = make_agent(session, role=Role.RISK_OFFICER)
    officer_headers = agent_headers(client, officer)
    assert_problem(client.get(url, headers=officer_headers), 422, "validation_error")
    blank = client.get(url, params={"reason": "  "}, headers=officer_headers)
    assert_problem(blank, 422, "reason_required")

    response = client.get(url, params={"reason": "checking ticket KF-1"}, headers=officer_headers)
    assert response.status_code == 200, response.text
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"] == (
        f'inline; filename="passport-{document["id"]}.png"'
    )
    download = client.get(
        url, params={"reason": "archive", "download": "true"}, headers=officer_headers
    )
    assert download.headers["content-disposition"].startswith("attachment;")

    views = audit_entries(engine, action="identity_document.viewed")
    assert [(v.actor_id, v.subject_id, v.data["reason"]) for v in views] == [
        (officer.id, document["id"], "checking ticket KF-1"),
        (officer.id, document["id"], "archive"),
    ]
    missing = client.get(
        "/api/v1/identity/documents/nope/content", params={"reason": "x"}, headers=officer_headers
    )
    assert_problem(missing, 404, "not_found")


def test_reject_needs_a_reason_and_decisions_are_final(
    client: TestClient, session: Session, engine: Engine
) -> None:
    customer = make_customer(session)
    headers = customer_headers(customer)
    upload(client, headers)
    review = submit(client, headers)
    officer = make_agent(session, role=Role.RISK_OFFICER)
    officer_headers = agent_headers(client, officer)
    url = f"/api/v1/identity/reviews/{review['id']}/decision"

    no_reason = client.post(url, json={"decision": "reject"}, headers=officer_headers)
    assert_problem(no_reason, 422, "reason_required")
    blank = client.post(url, json={"decision": "reject", "reason": " "}, headers=officer_headers)
    assert_problem(blank, 422, "reason_required")
    unknown = client.post(url, json={"decision": "maybe"}, headers=officer_headers)
    assert_problem(unknown, 422, "validation_error")

    rejected = client.post(
        url, json={"decision": "reject", "reason": "Photo is blurred"}, headers=officer_headers
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["decided_by"] == officer.id
    assert rejected.json()["reason"] == "Photo is blurred"
    again = client.post(url, json={"decision": "approve"}, headers=officer_headers)
    assert_problem(again, 409, "review_already_decided")

    [entry] = audit_entries(engine, action="identity_review.rejected")
    assert entry.actor_id == officer.id and entry.data["reason"] == "Photo is blurred"
    mine = client.get("/api/v1/identity/reviews/mine", headers=headers).json()
    assert mine[0]["status"] == "rejected"
    listed = client.get("/api/v1/identity/reviews?status=rejected", headers=officer_headers)
    assert [r["id"] for r in listed.json()] == [review["id"]]
    assert client.get("/api/v1/identity/reviews", headers=officer_headers).json() == []
    bad = client.get("/api/v1/identity/reviews?status=maybe", headers=officer_headers)
    assert_problem(bad, 422, "validation_error")
    with new_session(engine) as s:
        assert identity_reverified_at(s, customer.id) is None

    # The customer may submit new documents after a rejection.
    upload(client, headers)
    assert submit(client, headers)["status"] == "pending"


def test_approval_sets_identity_reverified_at_to_the_latest_approval(
    client: TestClient, session: Session, engine: Engine
) -> None:
    customer, other = make_customer(session), make_customer(session)
    officer_headers = agent_headers(client, make_agent(session, role=Role.ADMIN))
    with new_session(engine) as s:
        assert identity_reverified_at(s, customer.id) is None

    # In the past, so the reviewer's session (signed in just now) is still valid.
    first_decision = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)
    for decided_at in (first_decision, first_decision + timedelta(days=30)):
        clock.freeze(decided_at - timedelta(hours=1))
        headers = customer_headers(customer)
        upload(client, headers)
        review = submit(client, headers)
        clock.freeze(decided_at)
        approved = client.post(
            f"/api/v1/identity/reviews/{review['id']}/decision",
            json={"decision": "approve"},
            headers=officer_headers,
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"

    with new_session(engine) as s:
        assert identity_reverified_at(s, customer.id) == first_decision + timedelta(days=30)
        assert identity_reverified_at(s, other.id) is None
    assert len(audit_entries(engine, action="identity_review.approved")) == 2


def test_opening_a_review_is_audited(client: TestClient, session: Session, engine: Engine) -> None:
    headers = customer_headers(make_customer(session))
    upload(client, headers)
    review = submit(client, headers)
    officer = make_agent(session, role=Role.RISK_OFFICER)
    response = client.get(
        f"/api/v1/identity/reviews/{review['id']}", headers=agent_headers(client, officer)
    )
    assert response.status_code == 200, response.text
    assert response.json()["documents"][0]["sha256"] == hashlib.sha256(PNG).hexdigest()
    [entry] = audit_entries(engine, action="identity_review.read")
    assert entry.actor_id == officer.id and entry.subject_id == review["id"]


def test_an_agent_cannot_decide_their_own_identity_review(
    client: TestClient, session: Session, engine: Engine
) -> None:
    officer = make_agent(session, role=Role.RISK_OFFICER, email="mei@desk.example")
    own = make_customer(session, email="Mei@Desk.example")
    headers = customer_headers(own)
    upload(client, headers)
    review = submit(client, headers)
    response = client.post(
        f"/api/v1/identity/reviews/{review['id']}/decision",
        json={"decision": "approve"},
        headers=agent_headers(client, officer),
    )
    assert_problem(response, 403, "own_identity_review")
    assert audit_entries(engine, action="identity_review.approved") == []


def test_uploads_waiting_for_submission_are_bounded(client: TestClient, session: Session) -> None:
    headers = customer_headers(make_customer(session))
    for _ in range(10):
        assert upload(client, headers).status_code == 201
    assert_problem(upload(client, headers), 409, "too_many_documents")
    submit(client, headers)
    # Submitted documents no longer count; a new batch waits for the pending review's decision.
    assert upload(client, headers).status_code == 201


def test_demo_reviews_hold_real_png_and_pdf_files(
    client: TestClient, session: Session, engine: Engine
) -> None:
    from kefu.demo.documents import create_identity_reviews

    customers = [make_customer(session, display_name="王芳"), make_customer(session)]
    assert create_identity_reviews(session, customers) == 2
    session.commit()
    officer = agent_headers(client, make_agent(session, role=Role.RISK_OFFICER))
    queue = client.get("/api/v1/identity/reviews", headers=officer).json()
    assert [r["customer_id"] for r in queue] == [c.id for c in customers]
    for document in queue[0]["documents"]:
        content = client.get(
            f"/api/v1/identity/documents/{document['id']}/content",
            params={"reason": "demo check"},
            headers=officer,
        ).content
        assert hashlib.sha256(content).hexdigest() == document["sha256"]
        assert content.startswith((b"\x89PNG", b"%PDF-1.4"))
        if content.startswith(b"%PDF"):
            assert content.rstrip().endswith(b"%%EOF")
