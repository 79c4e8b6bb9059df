"""Tables of the admin boundaries and of their load history."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cddgis.core.areas import LEVELS_OF_DETAIL as LEVELS_OF_DETAIL

SRID = 4326


class Base(DeclarativeBase):
    pass


def _multipolygon(nullable: bool = True) -> Mapped[object]:
    return mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False),
                         nullable=nullable)


class _AdminArea:
    code: Mapped[str] = mapped_column(String, primary_key=True)
    name_th: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    source_name_th: Mapped[str | None] = mapped_column(Text)
    source_name_en: Mapped[str | None] = mapped_column(Text)
    in_registry: Mapped[bool] = mapped_column(Boolean)
    region: Mapped[str | None] = mapped_column(String)
    region_nesdb: Mapped[str | None] = mapped_column(String)
    area_km2: Mapped[float] = mapped_column(Float)
    load_id: Mapped[int] = mapped_column(Integer)
    geom: Mapped[object] = _multipolygon(nullable=False)
    geom_lod1: Mapped[object] = _multipolygon()
    geom_lod2: Mapped[object] = _multipolygon()
    geom_lod3: Mapped[object] = _multipolygon()


class Province(_AdminArea, Base):
    __tablename__ = "provinces"


class District(_AdminArea, Base):
    __tablename__ = "districts"
    province_code: Mapped[str] = mapped_column(String, index=True)


class Subdistrict(_AdminArea, Base):
    __tablename__ = "subdistricts"
    province_code: Mapped[str] = mapped_column(String, index=True)
    district_code: Mapped[str] = mapped_column(String, index=True)


class BoundaryLoad(Base):
    """One successful boundary load. Failed loads roll back and leave no row."""

    __tablename__ = "boundary_loads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sources: Mapped[dict] = mapped_column(JSONB)
    counts: Mapped[dict] = mapped_column(JSONB)
    registry_version: Mapped[str] = mapped_column(String)
    seconds: Mapped[float] = mapped_column(Float)


class BoundaryIssue(Base):
    """Something the loader noticed and kept: a repaired geometry, a code not in the registry…"""

    __tablename__ = "boundary_issues"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    load_id: Mapped[int] = mapped_column(ForeignKey("boundary_loads.id", ondelete="CASCADE"),
                                         index=True)
    level: Mapped[str] = mapped_column(String)
    code: Mapped[str | None] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String)
    detail: Mapped[str] = mapped_column(Text)


class LayerImport(Base):
    """Every import of a file into a point layer, committed or refused."""

    __tablename__ = "layer_imports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer: Mapped[str] = mapped_column(String)
    source_file: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                  server_default=func.now())
    mode: Mapped[str] = mapped_column(String)
    committed: Mapped[bool] = mapped_column(Boolean)
    sample: Mapped[bool] = mapped_column(Boolean, server_default=false())
    rows_total: Mapped[int] = mapped_column(Integer)
    rows_ok: Mapped[int] = mapped_column(Integer)
    rows_warning: Mapped[int] = mapped_column(Integer)
    rows_error: Mapped[int] = mapped_column(Integer)
    inserted: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)


class LayerFeature(Base):
    """A point of one of the CDD layers. ``personal`` holds PDPA data: never in public output."""

    __tablename__ = "layer_features"
    __table_args__ = (UniqueConstraint("layer", "key", name="uq_layer_features_layer_key"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    layer: Mapped[str] = mapped_column(String)
    key: Mapped[str] = mapped_column(String)
    name: Mapped[str | None] = mapped_column(Text)
    properties: Mapped[dict] = mapped_column(JSONB)
    personal: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    given_province_code: Mapped[str | None] = mapped_column(String)
    given_district_code: Mapped[str | None] = mapped_column(String)
    given_subdistrict_code: Mapped[str | None] = mapped_column(String)
    province_code: Mapped[str | None] = mapped_column(String)
    district_code: Mapped[str | None] = mapped_column(String)
    subdistrict_code: Mapped[str | None] = mapped_column(String)
    region: Mapped[str | None] = mapped_column(String)
    geom: Mapped[object] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    sample: Mapped[bool] = mapped_column(Boolean, server_default=false())
    source_file: Mapped[str | None] = mapped_column(Text)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("layer_imports.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
