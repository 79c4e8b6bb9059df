"""What a load is made from, as one fingerprint: the loader's own code and its input files.

``cddgis load … --if-changed`` (what ``make run`` uses) compares this with the fingerprint the
database recorded at the last load and loads again only when they differ, so a start with
nothing new is quick, and a new HDX release or a change in a loader's code is loaded without
anyone remembering to. The test templates (``tests/templates.py``) are keyed the same way.

The code part is the source of the loader's module and of every project module it imports,
followed through their imports (a change in, say, ``layers/importer.py`` changes the sample's
fingerprint). Data files count by content (``content=True``, for the tests' templates) or, where a
start must stay cheap, by name, size and modification time: statting the files costs
milliseconds, reading hundreds of megabytes of boundaries would cost seconds.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("cddgis", "core", "boundaries", "layers", "indicators", "gis")


def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] not in PROJECT_PACKAGES:
        return None
    base = ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _project_imports(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def code_files(modules: Iterable[str]) -> set[Path]:
    """The source files of ``modules`` and of every project module they import."""
    files: set[Path] = set()
    todo = list(modules)
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = _module_file(module)
        if path is None:
            continue
        files.add(path)
        todo.extend(_project_imports(path, module))
    return files


def data_files(data_dir: Path, folders: Iterable[str]) -> set[Path]:
    """Every file under ``folders`` of the data folder (a missing folder has none); the folder
    ``""`` is the data folder's own files, not its subfolders (the boundary loader reads both
    ``boundaries/`` and files put straight in the data folder)."""
    found: set[Path] = set()
    for folder in folders:
        files = data_dir.glob("*") if folder == "" else (data_dir / folder).rglob("*")
        found.update(p for p in files if p.is_file())
    return found


def fingerprint(code: Iterable[Path], data: Iterable[Path], data_dir: Path, *,
                content: bool = False) -> str:
    """SHA-256 (hex) over the code files' content and the data files' content (``content``)
    or name, size and modification time; stable whatever order the files come in."""
    digest = hashlib.sha256()
    for path in sorted(set(code)):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for path in sorted(set(data)):
        digest.update(str(path.relative_to(data_dir)).encode() + b"\0")
        if content:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        else:
            stat = path.stat()
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()
