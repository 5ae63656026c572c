"""Putting a model into the model store, and taking it out, so that a running server never
sees half a folder.

A new folder is built inside the store under a name starting with a dot (the repository
scan skips those), checked there with the code the server loads models with
(:func:`read_folder`, :class:`FolderModel`) and run once on a sample input, and only then
renamed into place: a rename within one file system is atomic, so a server scanning the
store sees either no folder or the whole checked one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modelport.models import importing, toml_text
from modelport.models.converters import CONVERTIBLE, Conversion, convert
from modelport.models.folder_model import FolderModel
from modelport.models.repository import ModelRepository, read_folder
from modelport.models.settings import SETTINGS_FILE, BadModelFolder, read_settings
from modelport.models.store import BUNDLED

FILE_SUFFIXES = (".onnx", ".skops", *CONVERTIBLE)
STAGING_PREFIX = ".adding-"
REMOVING_PREFIX = ".removing-"


class Refused(ValueError):
    """The store cannot take (or give up) the model as asked; the message says why."""


@dataclass(frozen=True)
class AddRequest:
    source: Path
    name: str | None = None
    choices: importing.Choices = field(default_factory=importing.Choices)
    replace: bool = False


@dataclass
class Added:
    model: FolderModel
    path: Path
    source: Path
    notes: list[str]
    warnings: list[str]
    conversion: Conversion | None = None
    # What was in the store under the name before: "added", "built-in" or None.
    replaced: str | None = None


def add_model(store: Path, request: AddRequest, bundled: Path = BUNDLED) -> Added:
    """Copy (or convert) ``request.source`` into ``store`` as a checked model folder."""
    source = request.source
    if not source.exists():
        raise Refused(f"{source}: no such file or folder")
    if source.is_file() and source.suffix not in FILE_SUFFIXES:
        raise Refused(
            f"{source.name}: Modelport adds {', '.join(FILE_SUFFIXES)} files or model folders "
            f"(holding a {SETTINGS_FILE})"
        )
    name = importing.check_name(request.name or _source_name(source))
    occupant, replaceable = _occupant(store, name, bundled)
    if occupant is not None and not (request.replace and replaceable):
        hint = "Pass --replace to put this model in its place, or" if replaceable else "Give"
        raise Refused(f"{name}: {occupant}. {hint} --name to add it under another name")
    store.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=store))
    try:
        folder = staging / name
        folder.mkdir()
        if source.is_dir():
            draft = importing.Draft(settings={}, notes=stage_folder(source, folder, request))
            conversion = None
        else:
            draft, conversion = stage_file(source, folder, request.choices)
        model = check_folder(folder)
        target = store / name
        replaced = _occupant_kind(store, name, bundled) if request.replace else None
        if replaced == "built-in" and target.exists():
            draft.warnings.append(
                f"{target} held the built-in {name} as retrained on this machine; "
                "those files are replaced too"
            )
        move_into_place(folder, target, staging / "replaced")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Added(model, target, source, draft.notes, draft.warnings, conversion, replaced)


def _source_name(source: Path) -> str:
    """A folder's own name for itself (``name`` in its settings), else its file name."""
    if source.is_dir():
        try:
            raw = tomllib.loads((source / SETTINGS_FILE).read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            raw = {}
        if isinstance(raw.get("name"), str):
            return raw["name"]
    return importing.name_from_file(source)


def _occupant(store: Path, name: str, bundled: Path) -> tuple[str | None, bool]:
    """What already answers to ``name``, in words (or None), and whether ``--replace`` may
    put the new model in its place."""
    path = store / name
    if (path / SETTINGS_FILE).is_file():
        return f"a model is already added under this name ({path})", True
    if (bundled / name / SETTINGS_FILE).is_file():
        # A store folder of a built-in's name is served in its place (see repository).
        return "a built-in model has this name", True
    if path.exists():
        return f"{path} already exists", True
    other = _added_folder(store, name, bundled)
    if other is not None:
        # Two store folders serving one name: which one wins would depend on their order.
        return f"the store folder {other} already serves a model of this name", False
    return None, False


def _occupant_kind(store: Path, name: str, bundled: Path) -> str | None:
    if (store / name / SETTINGS_FILE).is_file():
        return "added"
    if (bundled / name / SETTINGS_FILE).is_file():
        return "built-in"
    return "added" if (store / name).exists() else None


def stage_folder(source: Path, folder: Path, request: AddRequest) -> list[str]:
    """Copy a model folder's files; ``--name`` and ``--trust`` edit its settings' keys.
    Returns what was changed, in words."""
    if not (source / SETTINGS_FILE).is_file():
        raise Refused(f"{source}: no {SETTINGS_FILE} in the folder (or give a model file)")
    choices = request.choices
    ignored = [
        option
        for option, given in (
            ("--kind", choices.kind),
            ("--labels", choices.labels),
            ("--features", choices.features),
            ("--category", choices.categories),
        )
        if given
    ]
    if ignored:
        raise Refused(
            f"{', '.join(ignored)}: a model folder says these in its {SETTINGS_FILE}: edit it there"
        )
    for item in sorted(source.iterdir()):
        if item.name.startswith(".") or item.name == "__pycache__":
            continue
        if item.is_dir():
            shutil.copytree(item, folder / item.name)
        else:
            shutil.copy2(item, folder / item.name)
    toml = folder / SETTINGS_FILE
    text = toml.read_text("utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadModelFolder(folder.name, f"{SETTINGS_FILE} is not valid TOML: {exc}") from None
    changes = []
    try:
        if raw.get("name", folder.name) != folder.name:
            text = toml_text.set_top_level(text, "name", folder.name)
            changes.append(f"name set to {folder.name}")
        if choices.trust:
            listed = raw.get("trust", [])
            trust = list(listed) + [t for t in choices.trust if t not in listed]
            text = toml_text.set_top_level(text, "trust", trust)
            changes.append("trust from --trust")
    except ValueError as exc:
        raise BadModelFolder(folder.name, f"{SETTINGS_FILE}: {exc}") from None
    toml.write_text(text, "utf-8")
    changed = f" ({', '.join(changes)})" if changes else ""
    return [f"settings: the folder's own {SETTINGS_FILE}{changed}"]


def stage_file(
    source: Path, folder: Path, choices: importing.Choices
) -> tuple[importing.Draft, Conversion | None]:
    """A bare file in a folder with the settings it implies (converted to ONNX first)."""
    conversion = None
    # The file keeps its name (a converted one its stem), so messages name what was given.
    if source.suffix in CONVERTIBLE:
        path = folder / f"{_file_stem(source)}.onnx"
        conversion = convert(source, path)
    else:
        path = folder / f"{_file_stem(source)}{source.suffix}"
        shutil.copy2(source, path)
    if path.suffix == ".onnx":
        draft = importing.onnx_draft(path, choices)
    else:
        draft = importing.skops_draft(path, choices)
    if conversion is not None:
        draft.notes.insert(0, f"file: {path.name}, {conversion.describe()}")
    else:
        draft.notes.insert(0, f"file: {path.name}, copied from {source.name}")
    for filename, text in draft.files.items():
        (folder / filename).write_text(text, "utf-8")
    (folder / SETTINGS_FILE).write_text(
        toml_text.dumps(draft.settings, importing.header(source)), "utf-8"
    )
    return draft, conversion


def _file_stem(source: Path) -> str:
    """The source's stem, unless the settings could not name it (a leading dot)."""
    stem = source.stem
    return "model" if not stem or stem.startswith(".") else stem


def check_folder(folder: Path) -> FolderModel:
    """The folder as the server will load it, run once on the sample input that warms
    models up; any failure is a :class:`BadModelFolder` saying what is wrong."""
    model = FolderModel(read_folder(folder))
    run_sample(model)
    return model


def run_sample(model: FolderModel) -> None:
    from modelport.models.warmup import sample_input

    name = model.folder.path.name
    try:
        sample = model.prepare(sample_input(model))
    except Exception as exc:
        raise BadModelFolder(
            name, f"preparing a sample input failed: {type(exc).__name__}: {exc}"
        ) from None
    # A batch of 2 as well, as batching and multi-row requests send, unless the graph
    # takes one input at a time.
    sizes = (1,) if _fixed_batch(model) else (1, 2)
    for size in sizes:
        try:
            scores = np.asarray(model.predict(np.repeat(sample[None], size, axis=0)))
        except Exception as exc:
            raise BadModelFolder(
                name,
                f"the model fails on a sample input (batch of {size}): {type(exc).__name__}: {exc}",
            ) from None
        expected = (size, len(model.labels))
        if scores.shape != expected:
            key = "labels_file" if model.settings.labels_file else "labels"
            raise BadModelFolder(
                name,
                f"{key}: {len(model.labels)} labels, but the model gives scores of shape "
                f"{list(scores.shape)} for a batch of {size}",
            )
        if not np.isfinite(scores).all():
            raise BadModelFolder(name, "the model gives scores that are not finite numbers")


def _fixed_batch(model: FolderModel) -> bool:
    session = getattr(model.runner, "session", None)
    if session is None:
        return False
    batch = session.get_inputs()[0].shape[0]
    return isinstance(batch, int) and batch > 0


def move_into_place(folder: Path, target: Path, aside: Path) -> None:
    """Rename the checked ``folder`` to ``target``; an existing ``target`` is renamed to
    ``aside`` first (and put back if the second rename fails), for the caller to delete."""
    if target.exists() or target.is_symlink():
        os.rename(target, aside)
        try:
            os.rename(folder, target)
        except OSError:
            os.rename(aside, target)
            raise
        return
    os.rename(folder, target)


def remove_model(store: Path, name: str, bundled: Path = BUNDLED) -> tuple[Path, bool]:
    """Delete the added model ``name`` from ``store``: its folder is renamed out of the
    scan's sight first, then deleted. Returns the folder and whether a built-in of the same
    name is served again now."""
    path = _added_folder(store, name, bundled)
    built_in = (bundled / name / SETTINGS_FILE).is_file()
    if path is None:
        if built_in:
            raise Refused(
                f"{name} is built in: it ships with Modelport and is not in the store "
                f"({store}), so there is nothing to remove. To stop serving it, name the "
                "models to serve in MODELPORT_MODELS"
            )
        added = sorted(folder.name for folder in ModelRepository(store, bundled).folders(store))
        raise Refused(
            f"no added model named {name} in {store}"
            + (f"; added models: {', '.join(added)}" if added else "")
        )
    aside = Path(tempfile.mkdtemp(prefix=REMOVING_PREFIX, dir=store)) / name
    os.rename(path, aside)
    shutil.rmtree(aside.parent, ignore_errors=True)
    return path, built_in


def _added_folder(store: Path, name: str, bundled: Path) -> Path | None:
    """The store folder that serves ``name``: ``<store>/<name>`` with its own settings (a
    built-in's retrained artifacts there have none), else one whose settings name it."""
    path = store / name
    if (path / SETTINGS_FILE).is_file():
        return path
    for folder in ModelRepository(store, bundled).folders(store):
        try:
            if read_settings(folder).name == name:
                return folder
        except BadModelFolder:
            continue
    return None
