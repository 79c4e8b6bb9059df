"""The ``cddgis`` command: database, data loading and serving."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gis.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine


def _database_url(settings: Settings, role: str = "owner") -> str:
    """The URL for ``role``: ``owner`` (migrate, load, import, sample) or ``app`` (serve), from
    DATABASE_URL / CDDGIS_OWNER_DATABASE_URL or the local cluster (started if not running)."""
    if settings.database_url or settings.owner_database_url:
        from gis.db import database_url

        return database_url(settings, role)
    from gis.cluster import LocalCluster

    return LocalCluster(settings.state_dir).start().url(role=role)


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from gis.cluster import LocalCluster

    if (settings.database_url or settings.owner_database_url) and args.action != "url":
        print("DATABASE_URL is set: cddgis uses that database and runs no local cluster.")
        return 0
    cluster = LocalCluster(settings.state_dir)
    if args.action == "start":
        info = cluster.start()
        print(f"PostGIS is running on 127.0.0.1:{info.port} (data in {cluster.pgdata})")
    elif args.action == "stop":
        cluster.stop()
        print("PostGIS stopped.")
    elif args.action == "status":
        running = cluster.is_running()
        known = cluster.info()
        where = f" on 127.0.0.1:{known.port}" if known else ""
        print(f"PostGIS is {'running' + where if running else 'stopped'} ({cluster.pgdata})")
        return 0 if running else 3
    elif args.action == "url":
        print(_database_url(settings, args.role))
    return 0


def cmd_migrate(_: argparse.Namespace, settings: Settings) -> int:
    from gis.migrate import upgrade

    upgrade(_database_url(settings))
    print("Database schema is up to date.")
    return 0


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    """``load boundaries|villages|indicators|all``; ``all`` (what ``make run`` uses) also loads
    the sample layers, in one process with one migration check."""
    from gis.db import engine_for
    from gis.migrate import upgrade

    url = _database_url(settings)
    upgrade(url)
    engine = engine_for(url)
    data_dir = Path(args.dir).resolve() if args.dir else settings.data_dir
    if args.what != "all":
        return _load_one(args.what, engine, data_dir, args)
    status = 0
    for what in ("boundaries", "villages", "indicators", "sample"):
        code = _load_one(what, engine, data_dir, args)
        if code and what == "villages":  # optional: the app works without them
            print("cddgis: the villages were not loaded; place search and the sample use the "
                  "subdistricts instead", file=sys.stderr)
            continue
        status = status or code
    return status


def _load_one(what: str, engine: Engine, data_dir: Path, args: argparse.Namespace) -> int:
    """Loads ``what`` unless ``--if-changed`` finds its inputs unchanged since its last load
    (or ``--if-empty`` finds it loaded); a load that succeeds records what it was made from."""
    from gis import loads

    loader = loads.LOADERS[what]
    if getattr(args, "if_changed", False) and loads.up_to_date(engine, loader, data_dir):
        print(f"{what}: nothing new since the last load (ไม่มีข้อมูลใหม่)")
        return 0
    if what == "boundaries":
        code = _load_boundaries(engine, data_dir, args.if_empty)
    elif what == "villages":
        code = _load_villages(engine, data_dir, args.if_empty)
    elif what == "indicators":
        code = _load_indicators(engine, data_dir, args.if_empty)
    else:
        code = _load_sample(engine, data_dir, args.if_empty, getattr(args, "seed", 2564))
    if code == 0 and not args.if_empty:
        loads.record(engine, loader, data_dir)
    return code


def _load_boundaries(engine: Engine, data_dir: Path, if_empty: bool) -> int:
    from boundaries.load import BoundaryLoadError
    from gis.boundary_store import boundaries_loaded, load_boundaries

    if if_empty and boundaries_loaded(engine):
        print("Boundaries are already loaded (use `cddgis load boundaries` to reload).")
        return 0
    print(f"Loading boundaries from {data_dir} …")
    try:
        report = load_boundaries(engine, data_dir)
    except BoundaryLoadError as exc:
        print(f"Boundary load failed; the database was not changed.\n{exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def _load_sample(engine: Engine, data_dir: Path, if_empty: bool, seed: int) -> int:
    from gis.samples import load_samples

    reports = load_samples(engine, data_dir, only_if_empty=if_empty, seed=seed)
    failed = False
    for report in reports:
        print(report.summary().splitlines()[0])
        failed |= not report.committed
    return 1 if failed else 0


def _load_villages(engine: Engine, data_dir: Path, if_empty: bool) -> int:
    from boundaries.villages import VillageLoadError
    from gis.village_store import load_villages, villages_loaded

    if if_empty and villages_loaded(engine):
        print("Villages are already loaded.")
        return 0
    try:
        print(load_villages(engine, data_dir).summary())
    except VillageLoadError as exc:
        print(f"cddgis: {exc}", file=sys.stderr)
        return 1
    return 0


def _load_indicators(engine: Engine, data_dir: Path, if_empty: bool) -> int:
    from gis.indicator_store import indicators_loaded, load_catalog
    from indicators.tables import IndicatorImportError

    if if_empty and indicators_loaded(engine):
        print("Indicator tables are already loaded.")
        return 0
    try:
        reports = load_catalog(engine, data_dir)
    except IndicatorImportError as exc:
        print(f"cddgis: {exc}", file=sys.stderr)
        return 1
    for report in reports:
        print(report.summary())
    if not reports:
        print(f"No indicator tables in {data_dir / 'indicators'}.")
    return 0


def cmd_import_indicator(args: argparse.Namespace, settings: Settings) -> int:
    from gis.db import engine_for
    from gis.indicator_store import load_table
    from gis.migrate import upgrade
    from indicators.tables import IndicatorImportError, IndicatorSpec, TableSpec

    spec = TableSpec(
        file=Path(args.file).name, level=args.level, keys=tuple(args.key), source=args.source,
        licence=args.licence,
        indicators=(IndicatorSpec(args.id, args.title_th, args.title_en, args.unit,
                                  args.value, args.year),),
    )
    url = _database_url(settings)
    upgrade(url)
    try:
        report = load_table(engine_for(url), spec, Path(args.file),
                            skip_unmatched=args.skip_unmatched)
    except IndicatorImportError as exc:
        print(f"cddgis: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def cmd_issues(args: argparse.Namespace, settings: Settings) -> int:
    from gis.boundaries import latest_load_issues
    from gis.db import engine_for

    issues = latest_load_issues(engine_for(_database_url(settings, "app")), kind=args.kind)
    for issue in issues:
        print(f"{issue['level']:<12} {issue['code'] or '-':<7} {issue['kind']:<20} "
              f"{issue['detail']}")
    print(f"{len(issues)} issue(s)")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from gis.db import engine_for
    from gis.layer_store import import_file
    from gis.migrate import upgrade
    from layers.definitions import LAYERS
    from layers.importer import ImportRefused

    layer = LAYERS.get(args.layer)
    if layer is None:
        print(f"cddgis: no layer {args.layer!r}; layers are: {', '.join(LAYERS)}",
              file=sys.stderr)
        return 2
    url = _database_url(settings)
    upgrade(url)
    try:
        report = import_file(engine_for(url), layer, Path(args.file), dry_run=args.dry_run,
                             valid_only=args.valid_only, crs=args.crs)
    except ImportRefused as exc:
        print(f"cddgis: {exc}", file=sys.stderr)
        return 2
    if args.report:
        report.write_csv(Path(args.report))
    print(report.summary())
    if args.report:
        print(f"Row-by-row report: {args.report}")
    return 0 if report.committed or (args.dry_run and not report.file_problems
                                     and report.counts()["error"] == 0) else 1


def cmd_sample(args: argparse.Namespace, settings: Settings) -> int:
    from gis.db import engine_for
    from gis.migrate import upgrade

    url = _database_url(settings)
    upgrade(url)
    return _load_one("sample", engine_for(url), settings.data_dir, args)


def cmd_personal(args: argparse.Namespace, settings: Settings) -> int:
    """PDPA: erase one person's data (``erase``), or apply the upload retention (``purge``)."""
    from gis import personal
    from gis.db import engine_for
    from gis.migrate import upgrade
    from layers.definitions import LAYERS

    url = _database_url(settings)
    upgrade(url)
    engine = engine_for(url)
    uploads = settings.state_dir / "uploads"
    if args.action == "purge-uploads":
        days = args.days if args.days is not None else settings.upload_retention_days
        purged = personal.purge_uploads(engine, uploads, days)
        print(f"uploads older than {days} days: {purged['uploads']} cleared, "
              f"{purged['files']} files deleted")
        return 0
    layer = LAYERS.get(args.layer)
    if layer is None:
        raise ValueError(f"no layer {args.layer!r}: one of {', '.join(LAYERS)}")
    keys = args.feature or None
    matches = personal.find(engine, layer, keys=keys, name=args.name)
    for m in matches:
        state = " (retired)" if m.retired else ""
        print(f"{m.key}{state}: {m.name or '-'} — fields {', '.join(m.fields)}")
    if not args.yes:
        print(f"{len(matches)} feature(s) match. Nothing was changed: run again with --yes to "
              "erase (ไม่มีการเปลี่ยนแปลง ใส่ --yes เพื่อลบ)")
        return 1 if matches else 0
    done = personal.erase(engine, layer, keys=keys, name=args.name, actor="cli",
                          uploads_dir=uploads, reason=args.reason)
    print(f"erasure {done.erasure_id}: " + ", ".join(f"{k} {v}" for k, v in done.counts.items()))
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from gis.migrate import upgrade
    from web import create_app

    if not args.no_migrate:  # replicas behind the proxy start with --no-migrate
        upgrade(_database_url(settings, "owner"))
    # The web app connects as the least-privileged role: it cannot change the schema.
    app_url = _database_url(settings, "app")
    app = create_app(settings, database_url=app_url)
    _forget_stale_tiles(app_url)
    _apply_upload_retention(app_url, settings)
    if args.dev:
        app.run(host=settings.host, port=settings.port, debug=True)
        return 0
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{settings.host}:{settings.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("threads", args.threads)
            self.cfg.set("timeout", args.timeout)
            self.cfg.set("graceful_timeout", args.timeout)
            self.cfg.set("keepalive", 5)
            # Restarting each worker after a few thousand requests bounds slow memory growth;
            # the jitter keeps workers from restarting together.
            self.cfg.set("max_requests", args.max_requests)
            self.cfg.set("max_requests_jitter", max(args.max_requests // 10, 0))
            if not args.no_access_log:
                self.cfg.set("accesslog", "-")
            self.cfg.set("post_worker_init", _warm_up)

        def load(self):
            return app

    print(f"cddgis is serving on http://{settings.host}:{settings.port}/")
    _Server().run()
    return 0


def _warm_up(worker: object) -> None:
    """Loads in the background what the app imports on first use (Folium with pandas for the
    first map page, ~0.5 s; mapclassify with scipy and scikit-learn, ~2 s): a worker answers
    at once, and the first map page or choropleth does not wait."""
    import importlib
    import threading

    def load() -> None:
        for module in ("web.folium_map", "mapclassify"):
            importlib.import_module(module)

    threading.Thread(target=load, daemon=True, name="cddgis-warm-up").start()


def _forget_stale_tiles(url: str) -> None:
    """Cached tiles made under another declaration or version of the code are never served
    (their fingerprint is not asked for); they are deleted at start, so they take no room."""
    from gis import boundaries, tiles
    from gis.db import engine_for
    from layers.definitions import LAYERS

    sources: list[tiles.Source] = [*boundaries.COLLECTIONS.values(), *LAYERS.values(),
                                   tuple(LAYERS.values())]
    engine = engine_for(url)
    forgotten = tiles.forget_other_fingerprints(engine, sources)
    # The gunicorn master forks its workers next: it keeps no connection for them to inherit
    # (gis.db also gives every forked child fresh pools).
    engine.dispose()
    if forgotten:
        print(f"Deleted {forgotten:,} cached tiles of an earlier layer declaration or version.")


def _apply_upload_retention(url: str, settings: Settings) -> None:
    """PDPA retention at start (each new upload applies it too): old uploads' files go."""
    from gis.db import engine_for
    from gis.personal import purge_uploads

    engine = engine_for(url)
    purged = purge_uploads(engine, settings.state_dir / "uploads",
                           settings.upload_retention_days)
    engine.dispose()  # the gunicorn master forks next: it keeps no connection
    if purged["uploads"]:
        print(f"Cleared {purged['uploads']:,} uploads older than "
              f"{settings.upload_retention_days} days ({purged['files']:,} files).")


def _read_password(args: argparse.Namespace) -> str:
    """The password from standard input (one line), so it is never in argv or shell history."""
    if not args.password_stdin:
        raise ValueError("give the password on standard input with --password-stdin, e.g. "
                         "`printf '%s' \"$PASS\" | cddgis users add NAME --role admin "
                         "--password-stdin`")
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise ValueError("no password on standard input")
    return password


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    from core.errors import CddgisError
    from gis import accounts
    from gis.db import engine_for
    from gis.migrate import upgrade

    url = _database_url(settings)
    upgrade(url)
    engine = engine_for(url)
    try:
        if args.action == "add":
            account = accounts.create_account(
                engine, args.name, role=args.role, password=_read_password(args),
                provinces=args.province, layers=args.layer, can_approve=args.approve,
                can_personal=args.personal_data, can_indicators=args.indicators,
                display_name=args.display_name)
            print(f"added {account.name} ({account.scope_label()})")
        elif args.action == "list":
            for account in accounts.list_accounts(engine):
                state = "disabled" if account.disabled else "active"
                print(f"{account.name:<24} {state:<9} {account.scope_label()}")
        elif args.action == "disable":
            accounts.update_account(engine, args.name, disabled=True)
            print(f"disabled {args.name}: its sessions have ended and its API tokens are "
                  "revoked")
        elif args.action == "enable":
            accounts.update_account(engine, args.name, disabled=False)
            print(f"enabled {args.name}")
        elif args.action == "unlock":
            cleared = accounts.clear_failures(engine, args.name)
            print(f"unlocked {args.name}: {cleared} failed sign-ins cleared")
        elif args.action == "passwd":
            accounts.set_password(engine, args.name, _read_password(args))
            print(f"password of {args.name} changed; its other sessions have ended")
        elif args.action == "token":
            print(accounts.issue_token(engine, args.name, label=args.label))
        elif args.action == "revoke-token":
            accounts.revoke_token(engine, args.name, args.token_id)
            print(f"token {args.token_id} of {args.name} revoked")
    except CddgisError as exc:
        print(f"cddgis: {exc.message}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cddgis", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the local PostGIS cluster")
    db.add_argument("action", choices=["start", "stop", "status", "url"])
    db.add_argument("--role", choices=["app", "owner"], default="app",
                    help="for `url`: the web app's role (default) or the schema owner's")
    db.set_defaults(func=cmd_db)

    migrate = sub.add_parser("migrate", help="create or update the database schema")
    migrate.set_defaults(func=cmd_migrate)

    load = sub.add_parser("load", help="load source data into PostGIS")
    load.add_argument("what", choices=["boundaries", "villages", "indicators", "all"],
                      help="all: the three and the sample layers (what `make run` loads)")
    load.add_argument("dir", nargs="?", help="folder with the files (default: CDDGIS_DATA_DIR)")
    when = load.add_mutually_exclusive_group()
    when.add_argument("--if-empty", action="store_true", help="do nothing if already loaded")
    when.add_argument("--if-changed", action="store_true",
                      help="load only if the data files or the loader changed since the last load")
    load.set_defaults(func=cmd_load)

    boundaries = sub.add_parser("boundaries", help="inspect the loaded boundaries")
    boundaries.add_argument("action", choices=["issues"])
    boundaries.add_argument("--kind", help="only issues of this kind, e.g. not_in_registry")
    boundaries.set_defaults(func=cmd_issues)

    imp = sub.add_parser("import", help="import a CDD export into a point layer")
    imp.add_argument("layer", help="layer id, e.g. khok-nong-na")
    imp.add_argument("file", help="CSV, XLSX, GeoJSON, zipped Shapefile or GeoPackage")
    imp.add_argument("--dry-run", action="store_true", help="check only; write nothing")
    imp.add_argument("--valid-only", action="store_true",
                     help="commit the valid rows even when some rows have errors")
    imp.add_argument("--report", metavar="PATH", help="write the row-by-row report (CSV)")
    imp.add_argument("--crs", help="coordinates' CRS when not lon/lat: EPSG:32647 or EPSG:32648")
    imp.set_defaults(func=cmd_import)

    ind = sub.add_parser("import-indicator",
                         help="import an indicator table (CSV/XLSX) keyed by area code or name")
    ind.add_argument("file")
    ind.add_argument("--id", required=True, help="indicator id, e.g. poverty-rate")
    ind.add_argument("--title-th", required=True)
    ind.add_argument("--title-en", required=True)
    ind.add_argument("--unit", required=True)
    ind.add_argument("--source", required=True)
    ind.add_argument("--licence", required=True)
    ind.add_argument("--level", choices=["region", "province", "subdistrict"], default="province")
    ind.add_argument("--key", action="append", required=True,
                     help="area column: a code column, or name columns (repeat: Thai, English)")
    ind.add_argument("--value", help="value column; omit for year columns like year-2558-2015")
    ind.add_argument("--year", type=int, help="B.E. year of the value column")
    ind.add_argument("--skip-unmatched", action="store_true",
                     help="load the matched rows even when some names match no area")
    ind.set_defaults(func=cmd_import_indicator)

    sample = sub.add_parser("sample", help="generate and load the sample layer data")
    when = sample.add_mutually_exclusive_group()
    when.add_argument("--if-empty", action="store_true", help="only layers that are empty")
    when.add_argument("--if-changed", action="store_true",
                      help="only if the sample recipe or the villages changed since the last load")
    sample.add_argument("--seed", type=int, default=2564)
    sample.set_defaults(func=cmd_sample)

    users = sub.add_parser("users", help="staff accounts and API tokens")
    users_sub = users.add_subparsers(dest="action", required=True)
    add = users_sub.add_parser("add", help="a new account (password on stdin)")
    add.add_argument("name")
    add.add_argument("--role", choices=["admin", "editor"], required=True)
    add.add_argument("--province", action="append", metavar="CODE",
                     help="a province the editor keeps (DOPA code, or Thai or English "
                          "name); repeat; none = all")
    add.add_argument("--layer", action="append", metavar="ID",
                     help="a layer id the editor keeps; repeat; none = all")
    add.add_argument("--approve", action="store_true", help="may approve changes in scope")
    add.add_argument("--personal-data", action="store_true",
                     help="may see personal fields (PDPA; every view is logged)")
    add.add_argument("--indicators", action="store_true",
                     help="may upload and delete indicator tables (/staff/indicators)")
    add.add_argument("--display-name", help="e.g. สพจ.เชียงใหม่")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    users_sub.add_parser("list", help="every account with its scope")
    for action, text in (("disable", "disable an account (ends its sessions, revokes its "
                                     "tokens)"),
                         ("enable", "enable a disabled account (its old tokens stay revoked)"),
                         ("unlock", "clear the account's failed sign-ins (no more waiting)")):
        users_sub.add_parser(action, help=text).add_argument("name")
    passwd = users_sub.add_parser("passwd", help="set a password (stdin)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    token = users_sub.add_parser("token", help="print a new API token for the account")
    token.add_argument("name")
    token.add_argument("--label", help="what the token is for, e.g. 'CDD data center sync'")
    revoke = users_sub.add_parser("revoke-token", help="revoke one of the account's tokens")
    revoke.add_argument("name")
    revoke.add_argument("token_id", type=int)
    users.set_defaults(func=cmd_users)

    personal = sub.add_parser("personal", help="PDPA: erase a person's data; upload retention")
    personal_sub = personal.add_subparsers(dest="action", required=True)
    erase = personal_sub.add_parser(
        "erase", help="erase one person's data in rows, history, upload reports and files "
                      "(lists the matches first; --yes erases)")
    erase.add_argument("--layer", required=True, help="the layer id, e.g. khok-nong-na")
    who = erase.add_mutually_exclusive_group(required=True)
    who.add_argument("--feature", action="append", metavar="KEY",
                     help="a feature's key: all its personal data (repeatable)")
    who.add_argument("--name", help="every personal value equal to this name")
    erase.add_argument("--reason", help="why (e.g. the request's reference); never the name")
    erase.add_argument("--yes", action="store_true", help="erase (without it: only list)")
    purge = personal_sub.add_parser(
        "purge-uploads", help="delete stored upload files and row reports older than "
                              "CDDGIS_UPLOAD_RETENTION_DAYS")
    purge.add_argument("--days", type=int, help="instead of CDDGIS_UPLOAD_RETENTION_DAYS")
    personal.set_defaults(func=cmd_personal)

    serve = sub.add_parser("serve", help="serve the web app (PORT, HOST)")
    serve.add_argument("--dev", action="store_true", help="Flask's debug server")
    serve.add_argument("--workers", type=int, default=2)
    serve.add_argument("--threads", type=int, default=4, help="threads per worker")
    serve.add_argument("--timeout", type=int, default=30,
                       help="seconds before a silent worker is restarted")
    serve.add_argument("--max-requests", type=int, default=0,
                       help="restart a worker after this many requests (0: never)")
    serve.add_argument("--no-migrate", action="store_true",
                       help="skip the schema check (production: the owner migrated before)")
    serve.add_argument("--no-access-log", action="store_true",
                       help="no per-request log line (the proxy in front keeps one)")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return args.func(args, settings)
    except Exception as exc:
        from core.errors import CddgisError
        from gis.cluster import ClusterError
        from gis.db import DatabaseNotConfigured

        if isinstance(exc, CddgisError):
            print(f"cddgis: {exc.message}", file=sys.stderr)
            return 2
        if isinstance(exc, ClusterError | DatabaseNotConfigured | ValueError):
            print(f"cddgis: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
