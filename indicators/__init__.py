"""Indicator tables: reading, matching area names to DOPA codes, loading into PostGIS."""
