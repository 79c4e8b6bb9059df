"""QGIS 3.22 as a client of the running app, driven through PyQGIS.

PyQGIS is Debian's (``python3-qgis``) and runs under Debian's ``/usr/bin/python3``, not the
project's virtualenv, so the tests and the benchmark run this file in a subprocess: one JSON
argument in, one JSON object out on stdout. Headless (``QT_QPA_PLATFORM=offscreen``) with a
profile of its own (``profile``), so no user's QGIS settings or caches change what is measured.

Commands (``"do"``):

- ``read``: each of ``layers`` (``{"name", "uri", "subset"?}``) opened with the OAPIF provider
  (QGIS's own OGC API - Features client); every feature read; returns the count, the field
  names, the first ``sample`` features' attributes and the seconds the read took.
- ``render``: ``tiles`` (an XYZ template of Mapbox Vector Tiles) opened as a
  ``QgsVectorTileLayer`` and drawn over each of ``extents`` (lon/lat boxes); returns, per
  extent, how many pixels differ from the background.

Only the standard library and PyQGIS are imported: nothing of the project's own code runs here.
"""

from __future__ import annotations

import json
import os
import sys
import time
from array import array
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# (The platform above is set before Qt loads: these imports load it.)
from qgis.core import (
    Qgis,
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
    QgsVectorTileBasicRenderer,
    QgsVectorTileLayer,
)
from qgis.PyQt.QtCore import QDate, QDateTime, QSize, Qt
from qgis.PyQt.QtGui import QColor, QImage

MESSAGES: list[str] = []


def _log(message: str, tag: str, level: Any) -> None:
    """QGIS reports provider errors (a 400, a bad document) only to its message log: keep
    the warnings and errors so a test can show why a layer read nothing."""
    if level >= Qgis.Warning:
        MESSAGES.append(f"{tag}: {message}")


def _value(value: Any) -> Any:
    """An attribute as JSON: QVariant NULL as None, dates and the like as text."""
    if value is None or (hasattr(value, "isNull") and value.isNull()):
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (QDate, QDateTime)):
        return value.toString(Qt.ISODate)
    return str(value.toString()) if hasattr(value, "toString") else str(value)


def read(args: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    for spec in args["layers"]:
        started = time.perf_counter()
        layer = QgsVectorLayer(spec["uri"], spec["name"], "OAPIF")
        if not layer.isValid():
            results.append({"name": spec["name"], "valid": False,
                            "error": layer.error().summary(), "messages": MESSAGES[-5:]})
            continue
        if spec.get("subset") and not layer.setSubsetString(spec["subset"]):
            results.append({"name": spec["name"], "valid": True,
                            "error": f"subset refused: {spec['subset']}"})
            continue
        fields = [f.name() for f in layer.fields()]
        count, sample = 0, []
        request = QgsFeatureRequest()
        if not args.get("geometry", True):
            request.setFlags(QgsFeatureRequest.NoGeometry)
        for feature in layer.getFeatures(request):
            if count < args.get("sample", 5):
                sample.append({name: _value(feature[name]) for name in fields})
            count += 1
        results.append({"name": spec["name"], "valid": True, "count": count, "fields": fields,
                        "sample": sample, "seconds": time.perf_counter() - started,
                        "messages": MESSAGES[-5:]})
    return results


def _differing_pixels(image: QImage, background: QColor) -> int:
    image = image.convertToFormat(QImage.Format_ARGB32)
    bits = image.constBits()
    bits.setsize(image.sizeInBytes())
    pixels = array("I", bytes(bits))
    return len(pixels) - pixels.count(background.rgba())


def render(args: dict[str, Any]) -> dict[str, Any]:
    uri = f"type=xyz&url={args['tiles']}&zmin=0&zmax={args.get('zmax', 14)}"
    layer = QgsVectorTileLayer(uri, "tiles")
    if not layer.isValid():
        return {"valid": False, "error": layer.error().summary(), "messages": MESSAGES[-5:]}
    renderer = QgsVectorTileBasicRenderer()
    renderer.setStyles(QgsVectorTileBasicRenderer.simpleStyle(
        QColor(200, 40, 40), QColor(0, 0, 0), 0.5, QColor(0, 0, 0), 0.5,
        QColor(40, 40, 200), QColor(0, 0, 0), 3.0))
    layer.setRenderer(renderer)
    mercator = QgsCoordinateReferenceSystem("EPSG:3857")
    to_mercator = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"), mercator,
                                         QgsProject.instance())
    background = QColor(255, 255, 255)
    drawn = []
    for box in args["extents"]:
        settings = QgsMapSettings()
        settings.setLayers([layer])
        settings.setDestinationCrs(mercator)
        settings.setExtent(to_mercator.transformBoundingBox(QgsRectangle(*box)))
        settings.setOutputSize(QSize(args.get("size", 256), args.get("size", 256)))
        settings.setBackgroundColor(background)
        job = QgsMapRendererSequentialJob(settings)
        job.start()
        job.waitForFinished()
        image = job.renderedImage()
        if args.get("png"):
            image.save(f"{args['png']}-{len(drawn)}.png")
        drawn.append(_differing_pixels(image, background))
    return {"valid": True, "pixels": drawn, "messages": MESSAGES[-5:]}


def main() -> None:
    args = json.loads(sys.argv[1])
    # Qt wants a private runtime directory; one inside the profile leaves nothing behind.
    runtime = os.path.join(args["profile"], "runtime")
    os.makedirs(runtime, mode=0o700, exist_ok=True)
    os.environ["XDG_RUNTIME_DIR"] = runtime
    app = QgsApplication([], False, args["profile"])
    app.initQgis()
    QgsApplication.messageLog().messageReceived.connect(_log)
    try:
        out = read(args) if args["do"] == "read" else render(args)
        print(json.dumps({"qgis": Qgis.QGIS_VERSION, "result": out}, ensure_ascii=False))
    finally:
        app.exitQgis()


if __name__ == "__main__":
    main()
