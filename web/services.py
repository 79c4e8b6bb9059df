"""The app's services for the code that handles a request: its database engine and settings,
both set by the factory (``web.create_app``). Apart from the factory, so a blueprint imports
what it uses without importing the module that imports every blueprint."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import Engine

from gis.settings import Settings


def engine() -> Engine:
    return current_app.extensions["cddgis.engine"]


def settings() -> Settings:
    return current_app.extensions["cddgis.settings"]
