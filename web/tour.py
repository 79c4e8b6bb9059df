"""Pages for tourists: the GIS tour from home (the staff locator is in ``web/locator.py``).

Which layers they show comes from the declarations (``Layer.roles``): the layer with the "tour"
role is the tour's, those with "locator" are the locator's choices.
"""

from __future__ import annotations

import io
import json
import re
from itertools import pairwise
from typing import Any
from urllib.parse import quote, urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from PIL import Image, ImageDraw

from core.errors import BadParameter
from gis import layer_queries as lq
from gis import photos as gphotos
from gis import search as gsearch
from layers.definitions import LAYERS, Layer  # Layer is declared in core.schema
from web.choices import area_choices
from web.maps import page_map, plain_map, render
from web.page_layers import layers_with_role, script_config
from web.params import (
    bbox_param,
    code_param,
    int_param,
    layer_filters,
    near_paging,
    near_param,
    region_param,
)
from web.services import engine, settings
from web.share_images import OG_SIZE, draw_text

tour = Blueprint("tour", __name__)

# The nearby tourism villages' marker colour on a village page: the script draws them and the
# legend shows it, both from this one value.
NEIGHBOUR_COLOR = "#64748b"
NEIGHBOURS = 5
LIST_SIZE = 30
MAX_SEARCH_LIMIT = 400  # the most points the tour map draws one by one
SUGGESTIONS = 5
MAX_TRIP = 20  # villages in a shared trip link (item 3 of issue 24)
GOOGLE_STOPS = 10  # stops per Google Maps directions link (origin, 8 waypoints, destination)


def tour_layer() -> Layer:
    """The one layer the GIS tour shows."""
    layers = layers_with_role("tour")
    if len(layers) > 1:
        raise LookupError(f"more than one layer has the role 'tour': {[x.id for x in layers]}")
    return layers[0]


@tour.get("/tour")
def tour_index() -> ResponseReturnValue:
    layer = tour_layer()
    gsearch.warm_up()  # the visitor will type soon
    fmap = plain_map(settings())
    summary = lq.layer_summary(engine()).get(layer.id, {})
    return render_template("tour.html", fmap=fmap, layer=script_config(layer),
                           product_types=layer.field("product_type").choices,
                           sample=summary.get("sample", False), **area_choices())


@tour.get("/tour/<village_id>")
def tour_village(village_id: str) -> ResponseReturnValue:
    villages = tour_layer()
    village = _village(villages, village_id)
    lon, lat = village["geometry"]["coordinates"]
    page = lq.query_features(engine(), villages, lq.LayerQuery(
        near=(lon, lat), exclude=village_id, limit=NEIGHBOURS), count=False)
    neighbours = [json.loads(f) for f in page.features]
    # English mode names them in English: the declared name, else the stored romanisation.
    names_en = gsearch.english_names(engine(), villages,
                                     [village_id, *(str(n["id"]) for n in neighbours)])
    fmap = page_map(settings())
    # The markers, outlines and other layers' points are drawn by tour_village.js from the page
    # config (JSON, tooltips as text): Folium would paste the names into its inline script,
    # where `${…}` or <img onerror> runs. The script also fits the map to the village.
    props = village["properties"]
    markers = {"village": _marker(village, names_en),
               "neighbours": [_marker(f, names_en) for f in neighbours],
               "color": villages.color, "neighbour_color": NEIGHBOUR_COLOR,
               "subdistrict": props.get("subdistrict_code"), "district": props.get("district_code"),
               "others": [script_config(lay) for lay in LAYERS.values()
                          if lay.id != villages.id and lay.public_fields]}
    product = {c.value: c for c in villages.field("product_type").choices}.get(
        props.get("product_type"))
    page_url = url_for("tour.tour_village", village_id=village_id, _external=True)
    photos = gphotos.public(engine(), villages.id, str(village["id"]))
    # The share preview is the first photo when there is one (its web copy, EXIF stripped),
    # else the drawn card.
    og = ({"url": url_for("tour.photo", content_hash=photos[0]["content_hash"], size="web",
                          _external=True), "type": "image/jpeg",
           "width": photos[0]["web_width"], "height": photos[0]["web_height"]} if photos else
          {"url": url_for("tour.village_og", village_id=village_id, _external=True),
           "type": "image/png", "width": 1200, "height": 630})
    return render_template("tour_village.html", village=village, props=props,
                           name_en=names_en.get(village_id) or props.get("village_name", ""),
                           names_en=names_en,
                           sample=props.get("sample", False),
                           neighbours=neighbours, product=product, markers=markers,
                           fmap=render(fmap), page_url=page_url, photos=photos, og=og,
                           og_image=og["url"], contacts=contact_links(props),
                           share=share_links(page_url, props.get("village_name", "")),
                           directions=directions_links(lat, lon))


def _village(layer: Layer, village_id: str) -> dict[str, Any]:
    raw = lq.get_feature(engine(), layer, village_id)
    if raw is None:
        abort(404, description=f"ไม่พบชุมชน {village_id!r} — no tourism village {village_id!r}")
    village: dict[str, Any] = json.loads(raw)
    return village


def share_links(url: str, title: str) -> dict[str, str]:
    """LINE and Facebook share pages for ``url``: plain links, opened outside; nothing of
    theirs is loaded by our page."""
    return {"line": "https://social-plugins.line.me/lineit/share?" + urlencode({"url": url}),
            "facebook": "https://www.facebook.com/sharer/sharer.php?" + urlencode({"u": url}),
            "title": title}


def directions_links(lat: float, lon: float) -> dict[str, str]:
    """Directions to the village in Google Maps and OpenStreetMap, from wherever the visitor
    is (their app asks): plain links with the coordinates."""
    at = f"{lat:.6f},{lon:.6f}"
    return {"google": "https://www.google.com/maps/dir/?" + urlencode(
                {"api": "1", "destination": at}),
            "osm": f"https://www.openstreetmap.org/directions?route={quote(';' + at)}"
                   f"#map=15/{lat:.5f}/{lon:.5f}"}


def contact_links(props: dict[str, Any]) -> dict[str, Any]:
    """The village's published contacts as plain links: ``tel:`` for each phone number and
    LINE's own add-friend address for the LINE ID (nothing of LINE's is loaded by the page)."""
    phones = []
    for number in re.split(r"[,/]", str(props.get("phone") or "")):
        shown = number.strip()
        digits = re.sub(r"[^\d+]", "", shown)
        if digits:
            phones.append({"text": shown, "href": f"tel:{digits}"})
    line_id = str(props.get("line_id") or "").strip()
    line = None
    if line_id:
        # A personal ID opens as ~id; an official account's ID (@…) opens as itself.
        target = quote(line_id, safe="@") if line_id.startswith("@") else "~" + quote(line_id)
        line = {"text": line_id, "href": "https://line.me/R/ti/p/" + target}
    return {"phones": phones, "line": line, "opening_days": props.get("opening_days")}


@tour.get("/photos/<content_hash>/<size>.jpg")
def photo(content_hash: str, size: str) -> ResponseReturnValue:
    """A photo's public copy (EXIF stripped when it was stored): named by the content's hash,
    so it never changes and caches keep it for a year. Only photos a live feature shows."""
    try:
        path = gphotos.file_path(gphotos.photos_dir(settings().state_dir), content_hash, size)
    except ValueError:
        abort(404)
    if not path.is_file() or not gphotos.is_public(engine(), content_hash):
        abort(404)
    response = send_file(path, mimetype="image/jpeg", conditional=True, etag=content_hash[:32],
                         max_age=PHOTO_MAX_AGE)
    # A day, not a year: a photo staff delete (a face someone asked to have removed: PDPA)
    # must also leave the proxies' and browsers' caches; its content never changes, so a
    # revalidation after a day is a 304.
    response.headers["Cache-Control"] = f"public, max-age={PHOTO_MAX_AGE}"
    return response


PHOTO_MAX_AGE = 24 * 3600
"""How long a proxy or browser may keep a photo without asking again (see ``photo``)."""


@tour.get("/tour/<village_id>/og.png")
def village_og(village_id: str) -> ResponseReturnValue:
    """The preview image LINE and Facebook show beside a shared village page."""
    props = _village(tour_layer(), village_id)["properties"]
    response = Response(village_png(props), mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def village_png(props: dict[str, Any]) -> bytes:
    """1200×630: the name, where it is, its type and highlights (Pillow, vendored Sarabun)."""
    image = Image.new("RGB", OG_SIZE, "#ffffff")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, OG_SIZE[0], 18), fill="#0369a1")
    draw_text(draw, (60, 40), "เที่ยวชุมชน OTOP นวัตวิถี — cddgis กรมการพัฒนาชุมชน", 28, 700,
              "#0369a1")
    lines = [(str(props.get("village_name", "")), 64, 700),
             (f"ต.{props.get('subdistrict_th', '')} อ.{props.get('district_th', '')} "
              f"จ.{props.get('province_th', '')}", 32, 400),
             (str(props.get("product_type") or ""), 32, 400)]
    highlights = str(props.get("highlights_th") or "")
    lines += [(chunk, 30, 400) for chunk in _wrap(highlights, 60)[:4]]
    y = 100
    for value, size, weight in lines:
        if value.strip():
            draw_text(draw, (60, y), value, size, weight, "#111827")
            y += int(size * 1.5)
    if props.get("sample"):
        draw_text(draw, (60, OG_SIZE[1] - 50), "ข้อมูลตัวอย่าง — sample data", 24, 400, "#92400e")
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _wrap(value: str, width: int) -> list[str]:
    """Lines of at most ``width`` characters, broken at spaces where there are any."""
    lines: list[str] = []
    line = ""
    for word in value.split(" "):
        while len(word) > width:
            lines, line, word = [*lines, *([line] if line else []), word[:width]], "", word[width:]
        if len(line) + len(word) + 1 > width and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line] if line else lines


def _marker(feature: dict, names_en: dict[str, str]) -> dict[str, object]:
    lon, lat = feature["geometry"]["coordinates"]
    name = feature["properties"]["village_name"]
    return {"id": feature["id"], "lat": lat, "lon": lon, "name": name,
            "name_en": names_en.get(str(feature["id"])) or name}


def _typed() -> str:
    raw = request.args.get("q", "")
    if len(raw) > 100:
        raise BadParameter("q is at most 100 characters")
    return raw.strip()


@tour.get("/tour/search.json")
def search_villages() -> ResponseReturnValue:
    """The tour list for a typed name, forgiving slips (gis/search.py): a page of features best
    first (nearest first with ``near``), how many match, the next page's link, and — when none
    match — the names most like it anywhere ("did you mean")."""
    layer = tour_layer()
    typed = _typed()
    choices, _ = layer_filters(layer)
    near = near_param()
    limit = int_param("limit", LIST_SIZE, 1, MAX_SEARCH_LIMIT)
    offset = int_param("offset", 0, 0, gsearch.MAX_MATCHES)
    if near is not None:
        near_paging(limit, offset)
    where = lq.LayerQuery(region=region_param(), province=code_param("province", 2),
                          choices=choices, near=near, bbox=bbox_param())
    found = gsearch.find(engine(), layer, typed, where, limit=limit, offset=offset)
    features = gsearch.features(engine(), layer, found.keys, near)
    links = []
    if offset + len(found.keys) < found.total:
        args = request.args.to_dict() | {"offset": str(offset + limit), "limit": str(limit)}
        links.append({"rel": "next", "type": "application/json",
                      "href": url_for("tour.search_villages", _external=True, **args)})
    suggestions = [] if found.total else [s.as_dict() for s in gsearch.suggest(
        engine(), layer, typed, limit=SUGGESTIONS, floor=gsearch.SUGGEST_FLOOR)]
    # A name like a place (a slip: "เชียงใหมม") may still match villages by likeness; the
    # places most like it are offered whenever the search was not itself a place.
    places = [] if found.place else [p.as_dict() for p in gsearch.places_like(typed)]
    place = found.place.as_dict() if found.place else None
    body = (f'{{"type": "FeatureCollection", "numberMatched": {found.total}, '
            f'"numberReturned": {len(features)}, "links": {json.dumps(links)}, '
            f'"suggestions": {json.dumps(suggestions, ensure_ascii=False)}, '
            f'"place_suggestions": {json.dumps(places, ensure_ascii=False)}, '
            f'"place": {json.dumps(place, ensure_ascii=False)}, '
            f'"features": [{", ".join(features)}]}}')
    return Response(body, mimetype="application/geo+json")


@tour.get("/tour/suggest.json")
def suggest_villages() -> ResponseReturnValue:
    """Autocomplete: the village names most like what is typed so far (at most ``limit``)."""
    typed = _typed()
    limit = int_param("limit", 8, 1, 20)
    found = gsearch.suggest(engine(), tour_layer(), typed, limit=limit)
    return jsonify({"suggestions": [s.as_dict() for s in found]})


def village_ids(name: str, most: int) -> list[str]:
    """The ``name`` parameter's comma-separated village ids, in their order, repeats dropped:
    1 to ``most`` of them, each 1 to the key field's length of characters (control characters
    are refused for every parameter already). A bad list is a 400 naming ``name``."""
    raw = request.args.get(name, "")
    if not raw.strip():
        raise BadParameter(f"{name}: ระบุรหัสชุมชนอย่างน้อย 1 รหัส คั่นด้วยจุลภาค — {name} must list "
                           f"1 to {most} village ids separated by commas (e.g. {name}=id1,id2)")
    parts = [part.strip() for part in raw.split(",")]
    if len(parts) > most:
        raise BadParameter(f"{name}: ระบุได้ไม่เกิน {most} ชุมชน (ได้ {len(parts)}) — {name} lists "
                           f"{len(parts)} villages; at most {most}")
    longest = tour_layer().field(tour_layer().key_field).max_length or 40
    for part in parts:
        if not part or len(part) > longest:
            raise BadParameter(f"{name}: รหัสชุมชน {part!r} ไม่ถูกต้อง — {name} has a bad village "
                               f"id {part[:longest + 1]!r}: each is 1 to {longest} characters, "
                               f"separated by single commas")
    return list(dict.fromkeys(parts))


@tour.get("/tour/names.json")
def english_village_names() -> ResponseReturnValue:
    """Villages' names for English mode (``v``: ids, at most as many as the map draws): the
    declared English name, else the romanisation stored at import. The API's items carry only
    what the layer declares, so the tour asks for the rest here."""
    ids = village_ids("v", MAX_SEARCH_LIMIT)
    response = jsonify({"names": gsearch.english_names(engine(), tour_layer(), ids)})
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@tour.get("/tour/trip")
def trip() -> ResponseReturnValue:
    """A shared trip: the villages of ``v`` in its order, on a map, with the route's links to
    the maps apps. Nothing is stored: the link is the trip (issue 24, item 3; a visitor's own
    trip lives in their browser, trips.js)."""
    layer = tour_layer()
    ids = village_ids("v", MAX_TRIP)
    found = {f["id"]: f for f in map(json.loads, gsearch.features(engine(), layer, ids))}
    names_en = gsearch.english_names(engine(), layer, found)
    stops = []
    for key in ids:
        if key in found:
            lon, lat = found[key]["geometry"]["coordinates"]
            props = found[key]["properties"]
            stops.append({"id": key, "lat": lat, "lon": lon, "name": props["village_name"],
                          "name_en": names_en.get(key) or props["village_name"],
                          "province_th": props.get("province_th", ""),
                          "url": url_for("tour.tour_village", village_id=key)})
    missing = [key for key in ids if key not in found]
    fmap = page_map(settings())
    points = [(float(s["lat"]), float(s["lon"])) for s in stops]
    html = render_template("tour_trip.html", stops=stops, missing=missing,
                           links=trip_links(points), fmap=render(fmap),
                           sample=any(f["properties"].get("sample") for f in found.values()),
                           markers={"stops": stops, "color": layer.color})
    return html, 200 if stops else 404


def trip_links(points: list[tuple[float, float]]) -> dict[str, list[str]]:
    """The route through ``points`` (lat, lon), in order, as plain links to the maps apps.

    Google Maps takes an origin, a destination and waypoints, but a browser honours about
    eight waypoints: a longer trip is cut into parts of GOOGLE_STOPS stops, each starting where
    the last ended. OpenStreetMap's directions join two points: one link per leg. One stop
    gives directions to it from wherever the visitor is."""
    def at(point: tuple[float, float]) -> str:
        return f"{point[0]:.6f},{point[1]:.6f}"

    if not points:
        return {"google": [], "osm": []}
    if len(points) == 1:
        one = directions_links(*points[0])
        return {"google": [one["google"]], "osm": [one["osm"]]}
    google = []
    for start in range(0, len(points) - 1, GOOGLE_STOPS - 1):
        part = points[start:start + GOOGLE_STOPS]
        args = {"api": "1", "origin": at(part[0]), "destination": at(part[-1])}
        if len(part) > 2:
            args["waypoints"] = "|".join(at(p) for p in part[1:-1])
        google.append("https://www.google.com/maps/dir/?" + urlencode(args))
    osm = [f"https://www.openstreetmap.org/directions?route={quote(at(a) + ';' + at(b))}"
           for a, b in pairwise(points)]
    return {"google": google, "osm": osm}
