"""What the app says about itself to browsers and caches: CORS on the open API, and links built
only for the hosts it serves (issue 10)."""

from __future__ import annotations

from flask.testing import FlaskClient

from gis.settings import Settings
from web import create_app


def test_the_open_api_may_be_read_by_other_sites(client: FlaskClient) -> None:
    response = client.get("/api/collections", headers={"Origin": "https://example.org"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    assert "Origin" in response.headers["Vary"]


def test_a_preflight_is_answered(client: FlaskClient) -> None:
    response = client.options("/api/collections/provinces/items", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "if-none-match"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "If-None-Match" in response.headers["Access-Control-Allow-Headers"]
    assert "GET" in response.headers["Access-Control-Allow-Methods"]


def test_pages_get_no_cors_headers(client: FlaskClient) -> None:
    response = client.get("/", headers={"Origin": "https://example.org"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_forged_host_is_refused_not_echoed_into_links(client: FlaskClient) -> None:
    forged = client.get("/api/", headers={"Host": "evil.example"})
    assert forged.status_code == 400
    assert forged.get_json()["code"] == "BadRequest"
    assert "not trusted" in forged.get_json()["description"]
    assert "links" not in forged.get_json()
    honest = client.get("/api/", headers={"Host": "localhost"})
    assert honest.status_code == 200
    assert all(link["href"].startswith("http://localhost/")
               for link in honest.get_json()["links"])


def test_the_public_host_name_is_configured(settings: Settings, db_url: str) -> None:
    env = {"CDDGIS_ALLOWED_HOSTS": "gis.cdd.go.th, localhost", "CDDGIS_TILES": "none"}
    configured = Settings.from_env(env)
    assert configured.allowed_hosts == ("gis.cdd.go.th", "localhost")
    client = create_app(configured, database_url=db_url).test_client()
    response = client.get("/api/", headers={"Host": "gis.cdd.go.th"})
    assert response.status_code == 200
    assert response.get_json()["links"][0]["href"].startswith("http://gis.cdd.go.th/")
    assert client.get("/api/", headers={"Host": "127.0.0.1"}).status_code == 400


def test_a_representation_chosen_by_accept_says_so_in_vary(client: FlaskClient) -> None:
    """Without ``f``, the API answers a browser in HTML and everyone else in JSON: a shared cache
    must key on Accept (issue 25, item 3). With ``f`` the URL alone names the representation."""
    for accept in ("text/html", "application/json", None):
        response = client.get("/api/collections", headers={"Accept": accept} if accept else {})
        assert response.status_code == 200
        assert "Accept" in {v.strip() for v in response.headers["Vary"].split(",")}, accept
    chosen = client.get("/api/collections?f=json", headers={"Accept": "text/html"})
    assert chosen.mimetype == "application/json"
    assert "Accept" not in {v.strip() for v in chosen.headers.get("Vary", "").split(",")}
    health = client.get("/api/health")
    assert "Accept" not in {v.strip() for v in health.headers.get("Vary", "").split(",")}
