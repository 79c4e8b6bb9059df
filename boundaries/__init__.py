"""The admin boundary pipeline: HDX COD-AB files -> checked, reconciled, simplified -> PostGIS."""
