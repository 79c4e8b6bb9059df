"""cddgis: GIS map server and spatial web app for Thailand's Community Development Department."""

__version__ = "0.1.0"
