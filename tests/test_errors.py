"""Errors are answered in one place (web/errors.py): the right status, the OGC exception JSON
under /api and the HTML error page elsewhere, whoever raised them."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from core.errors import BadParameter, Conflict, NotFound, Unavailable
from gis.settings import Settings
from web import create_app


def test_an_unknown_indicator_is_404(client: FlaskClient) -> None:
    response = client.get("/api/indicators/no-such/values")
    assert response.status_code == 404
    assert response.get_json() == {"code": "NotFound",
                                   "description": "no indicator 'no-such'; see /api/indicators"}


def test_an_unknown_collection_and_item_are_404_in_ogc_json(client: FlaskClient) -> None:
    for path in ("/api/collections/nope", "/api/collections/nope/items",
                 "/api/collections/provinces/items/99",
                 "/api/collections/khok-nong-na/items/NO-SUCH-PLOT"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["code"] == "NotFound", path


def _app_raising(settings: Settings, db_url: str) -> Flask:
    """An app with routes outside every blueprint that raise each domain error."""
    app = create_app(settings, database_url=db_url)
    errors = {"bad": BadParameter("limit must be a whole number; got 'x'"),
              "missing": NotFound("no such thing"), "conflict": Conflict("changed meanwhile"),
              "down": Unavailable("try again")}

    def raiser(kind: str) -> str:
        raise errors[kind]

    app.add_url_rule("/api/raise/<kind>", "api_raise", raiser)
    app.add_url_rule("/raise/<kind>", "page_raise", raiser)
    return app


def test_domain_errors_raised_outside_a_blueprint_map_to_their_status(
        settings: Settings, db_url: str) -> None:
    client = _app_raising(settings, db_url).test_client()
    for kind, status, code in (("bad", 400, "InvalidParameterValue"), ("missing", 404, "NotFound"),
                               ("conflict", 409, "Conflict"),
                               ("down", 503, "ServiceUnavailable")):
        api = client.get(f"/api/raise/{kind}")
        assert api.status_code == status and api.get_json()["code"] == code
        page = client.get(f"/raise/{kind}")
        assert page.status_code == status
        assert page.mimetype == "text/html" and "<html" in page.get_data(as_text=True)


def test_a_bad_parameter_on_a_page_is_an_html_400(client: FlaskClient) -> None:
    response = client.get("/choropleth/export.html?indicator=nso-household-income&k=99"
                          "&classify=quantiles")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "k must be between 2 and 9" in response.get_data(as_text=True)
