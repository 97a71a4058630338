"""Articles through the API: versions and history, publishing, what customers and anonymous
visitors may see, safe Markdown, permissions and bad input."""

from __future__ import annotations

from html.parser import HTMLParser

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.identity.models import Role
from tests.core.helpers import assert_problem, audit_actions
from tests.factories import agent_headers, customer_headers, make_agent, make_customer
from tests.kb.helpers import create_article, create_category, publish


def test_every_edit_is_a_new_version_with_author_and_history(
    client: TestClient, session: Session, engine: Engine
) -> None:
    writer = make_agent(session)
    headers = agent_headers(client, writer)
    publisher = agent_headers(client, make_agent(session, role=Role.SUPERVISOR))
    create_category(client, publisher)
    article = create_article(client, headers)
    assert {t["language"]: t["status"] for t in article["translations"]} == {
        "en": "draft",
        "zh-CN": "draft",
    }

    response = client.put(
        f"/api/v1/kb/articles/{article['id']}/translations/en",
        json={"title": "Deposit help (updated)", "body": "Wait for 2 confirmations.", "note": "v2"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2

    history = client.get(
        f"/api/v1/kb/articles/{article['id']}/translations/en/versions", headers=headers
    ).json()
    assert [v["version"] for v in history] == [2, 1]
    assert {v["author_id"] for v in history} == {writer.id}
    assert history[0]["note"] == "v2" and history[1]["title"] == "Deposit help"
    assert all(v["created_at"] for v in history)

    first = client.get(
        f"/api/v1/kb/articles/{article['slug']}/translations/en/versions/1", headers=headers
    )
    assert first.json()["body"] == "Wait for **confirmations**."
    assert "<strong>confirmations</strong>" in first.json()["html"]

    # Publishing an older version keeps newer drafts as unpublished changes.
    response = client.post(
        f"/api/v1/kb/articles/{article['id']}/translations/en/publish",
        json={"version": 1},
        headers=publisher,
    )
    assert response.status_code == 200, response.text
    en = next(t for t in response.json()["translations"] if t["language"] == "en")
    assert (en["status"], en["published_version"], en["has_unpublished_changes"]) == (
        "published",
        1,
        True,
    )
    actions = audit_actions(engine, article["id"])
    assert actions.count("kb.translation_edited") == 3
    assert actions[-1] == "kb.translation_published"


def test_drafts_are_invisible_to_customers_and_anonymous_visitors(
    client: TestClient, session: Session
) -> None:
    publisher = agent_headers(client, make_agent(session, role=Role.SUPERVISOR))
    create_category(client, publisher)
    article = create_article(client, publisher)
    customer = customer_headers(make_customer(session))

    for headers in ({}, customer):
        response = client.get("/api/v1/kb/public/articles/deposit-help", headers=headers)
        assert_problem(response, 404, "kb_article_not_found")
        assert client.get("/api/v1/kb/public/articles", headers=headers).json() == []

    publish(client, publisher, article["id"], "zh-CN")
    anonymous = client.get("/api/v1/kb/public/articles/deposit-help?language=zh-CN")
    assert anonymous.status_code == 200, anonymous.text
    body = anonymous.json()
    assert (body["language"], body["title"], body["version"]) == ("zh-CN", "充值帮助", 1)
    assert body["available_languages"] == ["zh-CN"]
    assert body["url"] == "/kb/zh-CN/deposit-help"

    # The English draft stays hidden: an English reader gets the published Chinese text.
    english = client.get("/api/v1/kb/public/articles/deposit-help?language=en").json()
    assert english["language"] == "zh-CN"

    # A later draft does not leak: customers keep reading the published version.
    client.put(
        f"/api/v1/kb/articles/{article['id']}/translations/zh-CN",
        json={"title": "草稿标题", "body": "尚未发布的内容"},
        headers=publisher,
    )
    again = client.get("/api/v1/kb/public/articles/deposit-help?language=zh-CN", headers=customer)
    assert again.json()["title"] == "充值帮助"

    # The page a bot links to.
    page = client.get("/kb/zh-CN/deposit-help")
    assert page.status_code == 200 and "充值帮助" in page.text and "尚未发布" not in page.text

    # Unpublish and archive hide it again.
    client.post(
        f"/api/v1/kb/articles/{article['id']}/translations/zh-CN/unpublish", headers=publisher
    )
    assert client.get("/api/v1/kb/public/articles/deposit-help").status_code == 404
    publish(client, publisher, article["id"], "zh-CN")
    assert (
        client.delete(f"/api/v1/kb/articles/{article['id']}", headers=publisher).status_code == 200
    )
    assert client.get("/api/v1/kb/public/articles/deposit-help").status_code == 404
    assert client.get("/api/v1/kb/public/search?q=充值帮助&language=zh-CN").json() == []


def test_only_the_public_half_is_open_without_signing_in(
    client: TestClient, session: Session
) -> None:
    for path in (
        "/api/v1/kb/articles",
        "/api/v1/kb/templates",
        "/api/v1/kb/categories",
    ):
        assert_problem(client.get(path), 401, "not_authenticated")
    assert_problem(
        client.post("/api/v1/kb/articles", json={"slug": "x", "category": "y"}),
        401,
        "not_authenticated",
    )
    customer = customer_headers(make_customer(session))
    assert_problem(client.get("/api/v1/kb/articles", headers=customer), 403, "permission_denied")
    for path in ("/api/v1/kb/public/articles", "/api/v1/kb/public/categories"):
        assert client.get(path).status_code == 200


def test_agents_write_drafts_but_only_publishers_publish(
    client: TestClient, session: Session
) -> None:
    publisher = agent_headers(client, make_agent(session, role=Role.SUPERVISOR))
    agent = agent_headers(client, make_agent(session))
    create_category(client, publisher)
    assert_problem(
        client.put(
            "/api/v1/kb/categories", json={"slug": "x", "names": {"en": "X"}}, headers=agent
        ),
        403,
        "permission_denied",
    )
    article = create_article(client, agent)
    response = client.post(
        f"/api/v1/kb/articles/{article['id']}/translations/en/publish", json={}, headers=agent
    )
    assert_problem(response, 403, "permission_denied")
    assert_problem(
        client.delete(f"/api/v1/kb/articles/{article['id']}", headers=agent),
        403,
        "permission_denied",
    )


def test_markdown_is_rendered_safely(client: TestClient, session: Session) -> None:
    publisher = agent_headers(client, make_agent(session, role=Role.SUPERVISOR))
    create_category(client, publisher)
    hostile = (
        "Hello <script>alert('x')</script>\n\n"
        '<img src=x onerror="alert(1)">\n\n'
        "[click](javascript:alert(1)) and [docs](https://example.com/help)\n\n"
        '<a href="https://evil.example" onclick="steal()">raw link</a>\n\n'
        "<iframe src='https://evil.example'></iframe>"
    )
    article = create_article(
        client,
        publisher,
        slug="hostile",
        translations=[{"language": "en", "title": "<b>Title</b>", "body": hostile}],
    )
    publish(client, publisher, article["id"], "en")
    html = client.get("/api/v1/kb/public/articles/hostile").json()["html"]
    tags, attributes = _markup(html)
    assert tags <= {"p", "a"}, html
    assert attributes == {
        ("a", "href", "https://example.com/help"),
        ("a", "rel", "noopener nofollow"),
    }
    assert "&lt;script&gt;" in html  # shown as text, never run
    assert '<a href="https://example.com/help" rel="noopener nofollow">docs</a>' in html
    page = client.get("/kb/en/hostile").text.lower()
    assert "<script" not in page and "<iframe" not in page and "&lt;b&gt;title" in page


def _markup(html: str) -> tuple[set[str], set[tuple[str, str, str | None]]]:
    """The elements and attributes a browser would build from this HTML."""
    tags: set[str] = set()
    attributes: set[tuple[str, str, str | None]] = set()

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.add(tag)
            attributes.update((tag, name, value) for name, value in attrs)

    Collector().feed(html)
    return tags, attributes


def test_bad_input_gets_clear_problems_in_the_callers_language(
    client: TestClient, session: Session
) -> None:
    publisher = agent_headers(client, make_agent(session, role=Role.SUPERVISOR))
    create_category(client, publisher)
    article = create_article(client, publisher)

    taken = client.post(
        "/api/v1/kb/articles",
        json={"slug": "deposit-help", "category": "deposits"},
        headers={**publisher, "Accept-Language": "zh-CN"},
    )
    assert_problem(taken, 409, "kb_slug_taken")
    unknown = client.post(
        "/api/v1/kb/articles", json={"slug": "new-one", "category": "nope"}, headers=publisher
    )
    body = assert_problem(unknown, 422, "kb_category_unknown")
    assert "nope" in body["title"]
    assert_problem(
        client.post(
            "/api/v1/kb/articles",
            json={"slug": "Bad Slug!", "category": "deposits"},
            headers=publisher,
        ),
        422,
        "validation_error",
    )
    assert_problem(
        client.put(
            f"/api/v1/kb/articles/{article['id']}/translations/fr",
            json={"title": "Bonjour", "body": "x"},
            headers=publisher,
        ),
        422,
        "kb_language_unsupported",
    )
    assert_problem(
        client.get(
            f"/api/v1/kb/articles/{article['id']}/translations/en/versions/9", headers=publisher
        ),
        404,
        "kb_version_not_found",
    )
    assert_problem(
        client.get("/api/v1/kb/articles/missing", headers=publisher), 404, "kb_article_not_found"
    )
    assert_problem(
        client.post(
            f"/api/v1/kb/articles/{article['id']}/translations/en/publish",
            json={"version": 0},
            headers=publisher,
        ),
        422,
        "validation_error",
    )
    assert_problem(client.get("/api/v1/kb/public/search?q="), 422, "validation_error")
