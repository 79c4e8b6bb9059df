"""Every table, column, constraint and index of the schema: the one declaration that the
migrations (gis/migrations/versions) create and that tests/test_migrations.py compares against.

ตารางทั้งหมดของฐานข้อมูล — the migrations build exactly this; a difference fails the tests.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from core.areas import LEVELS_OF_DETAIL as LEVELS_OF_DETAIL

SRID = 4326


class Base(DeclarativeBase):
    pass


def _multipolygon(nullable: bool = True) -> Mapped[object]:
    return mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False),
                         nullable=nullable)


# DOPA code shapes, enforced by the database (a 5-digit "province" is refused at load time).
_CODE_PATTERN = {"provinces": "^[0-9]{2}$", "districts": "^[0-9]{4}$",
                 "subdistricts": "^[0-9]{6}$"}


class _AdminArea:
    __tablename__: str

    @declared_attr.directive
    def __table_args__(cls) -> tuple:
        table = cls.__tablename__
        return (
            CheckConstraint(f"code ~ '{_CODE_PATTERN[table]}'", name=f"ck_{table}_code"),
            Index(f"ix_{table}_geom", "geom", postgresql_using="gist"),
        )

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
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    """Who imported it from the staff workspace or the API; NULL for the command line."""


# A dry run can never commit (issue 25, item 0; migration 0012): an import's writer records its
# import first, in the import's transaction, and a dry run's open record (mode 'dry-run',
# committed) makes PostgreSQL refuse that transaction's COMMIT, whoever sends it.
DRY_RUN_GUARD_FUNCTION = """
    CREATE FUNCTION layer_imports_dry_run_never_commits() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.mode = 'dry-run' AND NEW.committed THEN
            RAISE EXCEPTION USING
                MESSAGE = 'a dry run is never committed (import ' || NEW.id || ')',
                HINT = 'cddgis: the transaction of a dry run must roll back';
        END IF;
        RETURN NULL;
    END $$
"""
DRY_RUN_GUARD_TRIGGER = """
    CREATE CONSTRAINT TRIGGER dry_run_never_commits
    AFTER INSERT OR UPDATE ON layer_imports
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION layer_imports_dry_run_never_commits()
"""
event.listen(LayerImport.__table__, "after_create", DDL(DRY_RUN_GUARD_FUNCTION))
event.listen(LayerImport.__table__, "after_create", DDL(DRY_RUN_GUARD_TRIGGER))

class LayerFeature(Base):
    """A point of one of the CDD layers. ``personal`` holds PDPA data: never in public output."""

    __tablename__ = "layer_features"
    __table_args__ = (
        UniqueConstraint("layer", "key", name="uq_layer_features_layer_key"),
        Index("ix_layer_features_geom", "geom", postgresql_using="gist"),
        *(Index(f"ix_layer_features_layer_{column}", "layer", column)
          for column in ("province_code", "district_code", "subdistrict_code", "region")),
        Index("ix_layer_features_properties", "properties", postgresql_using="gin",
              postgresql_ops={"properties": "jsonb_path_ops"}),
        # Nearest-first per layer (btree_gist holds the layer in the same GiST; 0004).
        Index("ix_layer_features_layer_geog", "layer", text("(geom::geography)"),
              postgresql_using="gist"),
    )
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
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    """Raised by every change: an edit made against an older version is refused (409/412)."""


class FeatureName(Base):
    """A layer feature's name in the forms search compares (gis/search.py): Thai without tone
    marks, and RTGS romanised (PyThaiNLP), filled when the feature is imported."""

    __tablename__ = "feature_names"
    __table_args__ = (
        ForeignKeyConstraint(["layer", "key"], ["layer_features.layer", "layer_features.key"],
                             name="fk_feature_names_feature", ondelete="CASCADE",
                             onupdate="CASCADE"),
        Index("ix_feature_names_rtgs", "name_rtgs", postgresql_using="gin",
              postgresql_ops={"name_rtgs": "gin_trgm_ops"}),
    )
    layer: Mapped[str] = mapped_column(String, primary_key=True)
    key: Mapped[str] = mapped_column(String, primary_key=True)
    name_norm: Mapped[str] = mapped_column(Text)
    name_rtgs: Mapped[str] = mapped_column(Text)


# pg_trgm (similarity, its GIN operator class) must exist before the table's index; migration
# 0008 creates it, and so does a schema built from these models.
event.listen(FeatureName.__table__, "before_create",
             DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm"))


class Village(Base):
    """A village point (TH_VILLAGE2012), for place-name search; ``search_key`` is normalised."""

    __tablename__ = "villages"
    __table_args__ = (
        Index("ix_villages_search_key", "search_key",
              postgresql_ops={"search_key": "text_pattern_ops"}),
        Index("ix_villages_geom", "geom", postgresql_using="gist"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name_th: Mapped[str] = mapped_column(Text)
    search_key: Mapped[str] = mapped_column(Text)
    subdistrict_code: Mapped[str | None] = mapped_column(String)
    district_code: Mapped[str | None] = mapped_column(String)
    province_code: Mapped[str | None] = mapped_column(String)
    geom: Mapped[object] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    source: Mapped[str] = mapped_column(Text)


class Indicator(Base):
    """An indicator's catalogue entry: titles, unit, source and licence, and its area level."""

    __tablename__ = "indicators"
    __table_args__ = (
        CheckConstraint("level IN ('region', 'province', 'district', 'subdistrict', 'village')",
                        name="ck_indicators_level"),
    )
    id: Mapped[str] = mapped_column(String, primary_key=True)
    title_th: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    licence: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String)
    source_file: Mapped[str | None] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                server_default=func.now())
    theme: Mapped[str | None] = mapped_column(Text)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id",
                                                               ondelete="SET NULL"))
    """The staff account that uploaded the table (0023); NULL for the catalogue's tables."""
    uploaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IndicatorUpload(Base):
    """A staff upload or deletion of an indicator table (0023): the history the staff page
    lists. The indicator is named, not referenced, so its history outlives a deletion."""

    __tablename__ = "indicator_uploads"
    __table_args__ = (
        CheckConstraint("action IN ('replace', 'delete')", name="ck_indicator_uploads_action"),
        Index("ix_indicator_uploads_indicator", "indicator_id", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_id: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id",
                                                              ondelete="SET NULL"))
    file_name: Mapped[str | None] = mapped_column(Text)
    areas: Mapped[int] = mapped_column(Integer, server_default="0")
    values: Mapped[int] = mapped_column(Integer, server_default="0")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TileCache(Base):
    """A built vector tile; triggers (0007, 0011) delete it when the data under it changes.
    Unlogged: a cache needs no write-ahead log (emptied after a crash, rebuilt on demand)."""

    __tablename__ = "tile_cache"
    __table_args__ = (
        Index("ix_tile_cache_collection_envelope", "collection", "envelope",
              postgresql_using="gist"),
        {"prefixes": ["UNLOGGED"]},
    )
    collection: Mapped[str] = mapped_column(String, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String, primary_key=True)
    """What code and declaration put in the tile (gis/tiles.py ``fingerprint``)."""
    params: Mapped[str] = mapped_column(Text, primary_key=True)
    z: Mapped[int] = mapped_column(Integer, primary_key=True)
    x: Mapped[int] = mapped_column(Integer, primary_key=True)
    y: Mapped[int] = mapped_column(Integer, primary_key=True)
    envelope: Mapped[object] = mapped_column(
        Geometry("POLYGON", srid=SRID, spatial_index=False), nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class TileVersion(Base):
    """A collection's data version, raised by the tile-cache triggers (0011) on every write
    that changes its tiles; versioned tile URLs are built from it. The ``indicators`` row is
    raised by any write to the indicator tables (0019). What the app keeps per process is
    kept under all of them (gis/versioned.py)."""

    __tablename__ = "tile_versions"
    collection: Mapped[str] = mapped_column(String, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, server_default="1")


class LoadedInput(Base):
    """What each loader last loaded from (core.inputs.fingerprint): ``--if-changed`` loads
    again only when its code or its input files differ (0016)."""

    __tablename__ = "loaded_inputs"
    loader: Mapped[str] = mapped_column(String, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                server_default=func.now())

# Tile invalidation at commit (issue 25, item 7; migration 0017). The statement triggers on
# layer_features record the changed positions per transaction (no lock); the marker row's
# deferred constraint trigger forgets the tiles at COMMIT, under the layers' advisory locks,
# so those locks are held for the commit-time work only, not for the length of an import.
TILE_EXACT_POINTS = 10_000
"""Up to this many recorded positions, exactly the tiles that hold one are forgotten."""
TILE_CELL_DEGREES = 0.0625
"""Past it, positions are reduced to cells of this grid first (1/16°, ~7 km, a power of two so
cell edges are exact): at most ~11,000 cells cover Thailand's land, however many rows."""
_CELL = f"""(SELECT DISTINCT layer, floor(ST_X(geom) / {TILE_CELL_DEGREES}) AS cx,
                    floor(ST_Y(geom) / {TILE_CELL_DEGREES}) AS cy
             FROM tile_cache_pending WHERE xact = NEW.xact AND geom IS NOT NULL)"""
TILE_PENDING_FUNCTION = f"""
    CREATE FUNCTION tile_cache_forget_pending() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DECLARE
        recorded bigint;
    BEGIN
        -- Sorted, so two transactions committing at once cannot deadlock. Each statement
        -- below sees what committed before the lock was got (READ COMMITTED): a tile a
        -- builder stored under the shared lock just before is deleted too.
        PERFORM pg_advisory_xact_lock(hashtext('cddgis.tile_cache'), hashtext(l.layer))
        FROM (SELECT DISTINCT layer FROM tile_cache_pending WHERE xact = NEW.xact
              ORDER BY layer) l;
        SELECT count(*) INTO recorded FROM tile_cache_pending WHERE xact = NEW.xact;
        IF recorded <= {TILE_EXACT_POINTS} THEN
            DELETE FROM tile_cache c USING tile_cache_pending r
            WHERE r.xact = NEW.xact AND c.collection IN (r.layer, '*')
              AND c.envelope && r.geom;
        ELSE
            DELETE FROM tile_cache c USING {_CELL} r
            WHERE c.collection IN (r.layer, '*')
              AND c.envelope && ST_MakeEnvelope(
                  r.cx * {TILE_CELL_DEGREES}, r.cy * {TILE_CELL_DEGREES},
                  (r.cx + 1) * {TILE_CELL_DEGREES}, (r.cy + 1) * {TILE_CELL_DEGREES}, 4326);
        END IF;
        INSERT INTO tile_versions AS v (collection, version)
        SELECT DISTINCT layer, 1 FROM tile_cache_pending WHERE xact = NEW.xact
        ON CONFLICT (collection) DO UPDATE SET version = v.version + 1;
        DELETE FROM tile_cache_pending WHERE xact = NEW.xact;
        DELETE FROM tile_cache_pending_xacts WHERE xact = NEW.xact;
        RETURN NULL;
    END $$
"""
TILE_PENDING_TRIGGER = """
    CREATE CONSTRAINT TRIGGER tile_cache_forget_at_commit
    AFTER INSERT ON tile_cache_pending_xacts
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION tile_cache_forget_pending()
"""


# What a transaction's writes to ``layer_features`` changed (layer, old/new position), kept
# until its commit forgets their tiles (0017). A plain table: no key, only ever read and deleted
# by transaction. A rolled-back transaction's rows vanish with it; unlogged: after a crash there
# is no transaction left to commit them.
tile_cache_pending = Table(
    "tile_cache_pending",
    Base.metadata,
    Column("xact", BigInteger, nullable=False),
    Column("layer", String, nullable=False),
    Column("geom", Geometry("POINT", srid=SRID, spatial_index=False)),
    Index("ix_tile_cache_pending_xact", "xact"),
    prefixes=["UNLOGGED"],
)


class TileCachePendingXact(Base):
    """One row per transaction with pending tile invalidation; its deferred constraint trigger
    (``TILE_PENDING_TRIGGER``) does the invalidation at COMMIT."""

    __tablename__ = "tile_cache_pending_xacts"
    __table_args__ = ({"prefixes": ["UNLOGGED"]},)
    xact: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


event.listen(TileCachePendingXact.__table__, "after_create", DDL(TILE_PENDING_FUNCTION))
event.listen(TileCachePendingXact.__table__, "after_create", DDL(TILE_PENDING_TRIGGER))


# A plain table, not a mapped class: its key is (indicator, area, year) with year possibly NULL,
# so it has a unique expression index instead of a primary key (which the ORM would require).
indicator_values = Table(
    "indicator_values",
    Base.metadata,
    Column("indicator_id", String, ForeignKey("indicators.id", ondelete="CASCADE"),
           nullable=False),
    Column("area_code", String, nullable=False),
    Column("year", Integer),  # Buddhist Era; NULL when the table has no year
    Column("value", Float),  # NULL: the table has the area but no figure
    Index("uq_indicator_values", "indicator_id", "area_code", text("coalesce(year, 0)"),
          unique=True),
)


class Account(Base):
    """A staff account (0009): admin, or editor scoped to provinces and layers (NULL = all)."""

    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint("role IN ('admin', 'editor')", name="ck_accounts_role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String, unique=True)
    display_name: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String)
    provinces: Mapped[list[str] | None] = mapped_column(ARRAY(String))
    layers: Mapped[list[str] | None] = mapped_column(ARRAY(String))
    can_approve: Mapped[bool] = mapped_column(Boolean, server_default=false())
    can_personal: Mapped[bool] = mapped_column(Boolean, server_default=false())
    can_indicators: Mapped[bool] = mapped_column(Boolean, server_default=false())
    """May upload and delete indicator tables (0023); administrators may anyway."""
    password_hash: Mapped[str | None] = mapped_column(Text)
    """argon2id; NULL = no password sign-in (API token only)."""
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=false())
    session_epoch: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class ApiToken(Base):
    """A revocable API token; only its SHA-256 is stored (tokens are 256 random bits)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    token_sha256: Mapped[str] = mapped_column(String, unique=True)
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StaffSession(Base):
    """A signed-in browser (0013): the cookie carries a random id, this row its SHA-256. Signing
    out deletes the row, which ends that session even for a copy of the cookie."""

    __tablename__ = "staff_sessions"
    __table_args__ = (Index("ix_staff_sessions_account_id", "account_id"),
                      Index("ix_staff_sessions_expires_at", "expires_at"))
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    token_sha256: Mapped[str] = mapped_column(String, unique=True)
    epoch: Mapped[int] = mapped_column(Integer)
    """The account's ``session_epoch`` at sign-in: a password change or disabling bumps it."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SignInFailure(Base):
    """A failed sign-in: throttling and lock-out count these, so every app process agrees."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_name_at", "name", "at"),
                      Index("ix_sign_in_failures_address_at", "address", "at"),
                      Index("ix_sign_in_failures_at", "at"))
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String)
    address: Mapped[str] = mapped_column(String)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LayerSetting(Base):
    """Per-layer workspace settings: whether changes wait for approval before going public."""

    __tablename__ = "layer_settings"
    layer: Mapped[str] = mapped_column(String, primary_key=True)
    requires_approval: Mapped[bool] = mapped_column(Boolean, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class FeatureChange(Base):
    """Every change to a feature (history), and changes waiting for approval (``pending``).

    ``before``/``after`` are whole snapshots of the feature (gis/changes.py), so any earlier
    version can be restored and a retired feature brought back with its id.
    """

    __tablename__ = "feature_changes"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('create', 'update', 'move', 'retire', 'restore', 'import', 'revert')",
            name="ck_feature_changes_kind"),
        CheckConstraint("status IN ('published', 'pending', 'rejected')",
                        name="ck_feature_changes_status"),
        Index("ix_feature_changes_layer_key_at", "layer", "feature_key", "at"),
        Index("ix_feature_changes_feature_id", "feature_id"),
        Index("ix_feature_changes_status_layer", "status", "layer"),
        Index("ix_feature_changes_import_id", "import_id"),
        Index("ix_feature_changes_account_reviewed", "account_id", "id",
              postgresql_where=text("status IN ('pending', 'rejected') "
                                    "OR decided_at IS NOT NULL")),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    layer: Mapped[str] = mapped_column(String)
    feature_id: Mapped[int | None] = mapped_column(BigInteger)
    feature_key: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    actor: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    base_version: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)
    province_code: Mapped[str | None] = mapped_column(String)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("layer_imports.id"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)


class PersonalDataView(Base):
    """PDPA: who saw personal fields of which features, when, and where."""

    __tablename__ = "personal_data_views"
    __table_args__ = (Index("ix_personal_data_views_account_at", "account_id", "at"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    layer: Mapped[str] = mapped_column(String)
    feature_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    context: Mapped[str] = mapped_column(Text)
    fields: Mapped[list[str] | None] = mapped_column(ARRAY(String))
    """The personal fields shown or compared."""
    address: Mapped[str | None] = mapped_column(String)
    """The client's address as the app sees it (behind its trusted proxy)."""


class PersonalErasure(Base):
    """PDPA: an erasure of one person's data (by feature or by a name match); never the value."""

    __tablename__ = "personal_erasures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    actor: Mapped[str] = mapped_column(String)
    address: Mapped[str | None] = mapped_column(String)
    layer: Mapped[str] = mapped_column(String)
    method: Mapped[str] = mapped_column(String)
    """``feature`` (every personal value of the features) or ``name`` (values equal to it)."""
    feature_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    counts: Mapped[dict] = mapped_column(JSONB)
    """How many copies were changed: rows, history entries, upload reports, stored files."""
    reason: Mapped[str | None] = mapped_column(Text)


UPLOAD_STATUSES = ("queued", "checking", "checked", "failed", "committing", "committed",
                   "not_committed", "cancelled")


class UploadJob(Base):
    """A file uploaded in the staff workspace (0010_uploads): checked, then committed or
    cancelled, each in a background thread that keeps its progress and report here."""

    __tablename__ = "upload_jobs"
    __table_args__ = (
        CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in UPLOAD_STATUSES) + ")",
                        name="ck_upload_jobs_status"),
        CheckConstraint("commit_mode IN ('all-or-nothing', 'valid-only')",
                        name="ck_upload_jobs_commit_mode"),
        CheckConstraint("origin IN ('upload', 'api')", name="ck_upload_jobs_origin"),
        Index("ix_upload_jobs_account_created", "account_id", "created_at"),
        Index("ix_upload_jobs_check_import_id", "check_import_id"),
        Index("ix_upload_jobs_import_id", "import_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    layer: Mapped[str] = mapped_column(String)
    file_name: Mapped[str] = mapped_column(Text)
    """The name the uploader's file had (shown, never used as a path)."""
    stored_name: Mapped[str] = mapped_column(Text)
    """The file under ``state_dir/uploads`` while it is needed (deleted once committed)."""
    file_kind: Mapped[str] = mapped_column(String)
    origin: Mapped[str] = mapped_column(String, server_default="upload")
    """``upload``: the staff workspace (checked, then committed or cancelled); ``api``: a file
    the import API runs in the background in one go (0018_import_job_origin)."""
    crs: Mapped[str | None] = mapped_column(String)
    """The coordinate system the clerk chose (EPSG:32647/32648 for UTM files without a zone
    column); None: latitude/longitude or a zone column."""
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String, server_default="queued")
    rows_done: Mapped[int] = mapped_column(Integer, server_default="0")
    rows_estimate: Mapped[int | None] = mapped_column(Integer)
    report: Mapped[dict | None] = mapped_column(JSONB)
    """The dry run's report, row by row (layers.importer.ImportReport as JSON)."""
    check_import_id: Mapped[int | None] = mapped_column(ForeignKey("layer_imports.id"))
    commit_mode: Mapped[str | None] = mapped_column(String)
    commit_report: Mapped[dict | None] = mapped_column(JSONB)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("layer_imports.id"))
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class FeaturePhoto(Base):
    """A photo staff attached to a feature (0021): the files are under ``state_dir/photos``,
    named by ``content_hash``; EXIF time and place are kept here for staff only."""

    __tablename__ = "feature_photos"
    __table_args__ = (
        CheckConstraint("content_hash ~ '^[0-9a-f]{64}$'",
                        name="ck_feature_photos_content_hash"),
        UniqueConstraint("layer", "feature_key", "content_hash",
                         name="uq_feature_photos_feature_hash"),
        Index("ix_feature_photos_content_hash", "content_hash"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer: Mapped[str] = mapped_column(String)
    feature_key: Mapped[str] = mapped_column(String)
    content_hash: Mapped[str] = mapped_column(String)
    """SHA-256 of the uploaded bytes: the public copies' file names and URLs."""
    original_bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    """The photo's size upright (after the EXIF orientation), before resizing."""
    height: Mapped[int] = mapped_column(Integer)
    web_width: Mapped[int] = mapped_column(Integer)
    web_height: Mapped[int] = mapped_column(Integer)
    web_bytes: Mapped[int] = mapped_column(Integer)
    thumb_bytes: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """EXIF DateTimeOriginal (staff only)."""
    taken_lon: Mapped[float | None] = mapped_column(Float)
    """EXIF GPS position (staff only): audit evidence of where the photo was taken."""
    taken_lat: Mapped[float | None] = mapped_column(Float)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
