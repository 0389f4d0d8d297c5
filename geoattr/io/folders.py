"""Output folders that never mix two runs.

A run writes into a temporary folder beside its output folder (same parent, named
``.<name>.partial-<pid>``) and moves it into place only when every file is written:
the output folder holds either the previous complete run or the new complete run,
never a mixture.  A folder whose name contains ``.partial-`` is an interrupted run
and can be deleted.

geoattr only replaces a folder that is empty or that holds a previous geoattr run
(a ``run.json`` with the key ``geoattr_run``), so a mistyped ``--out`` cannot wipe
a folder of other files.  The checks run before any work.  :func:`collect_warnings`
gathers the geoattr warnings of a run for its ``run.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from geoattr.exceptions import GeoattrWarning, InputError

__all__ = ["RUN_MARKER", "check_output_folder", "staged_output", "relocate", "collect_warnings"]

#: The key of ``run.json`` that marks a folder as a geoattr run (replaceable by the next run).
RUN_MARKER = "geoattr_run"


def _is_geoattr_run(folder: Path) -> bool:
    try:
        info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and RUN_MARKER in info


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output_folder(out: str | os.PathLike, *, inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Check that a run may write (and replace) the output folder ``out``; nothing is written.

    Parameters
    ----------
    out : str or path-like
        The output folder.
    inputs : iterable of str or path-like, optional
        Input files and folders (configuration, data) that must not lie inside ``out``.

    Returns
    -------
    Path
        ``out`` made absolute (symbolic links resolved).

    Raises
    ------
    InputError
        When ``out`` is a file, when its nearest existing parent is not a writable
        folder, when it is the working folder or contains it or one of ``inputs``, or
        when it is a folder that is neither empty nor a previous geoattr run.
    """
    given = str(out)
    path = Path(out).expanduser().resolve()
    hint = "choose another --out (a new folder name)"
    if path.exists() and not path.is_dir():
        raise InputError(f"the output folder {given!r} is a file, not a folder; {hint}")
    if _inside(Path.cwd().resolve(), path):
        raise InputError(f"the output folder {given!r} is the working folder or contains it; "
                         f"geoattr replaces the whole output folder: {hint}")
    for item in inputs:
        if _inside(Path(item).expanduser().resolve(), path):
            raise InputError(f"the output folder {given!r} contains the input {str(item)!r}, and geoattr replaces "
                             f"the whole output folder: {hint}, outside the folders of the inputs")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"cannot create the output folder {given!r}: {str(parent)!r} is a file; {hint}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot create the output folder {given!r}: no permission to write in {str(parent)!r}; "
                         f"{hint} in a folder you can write to")
    if path.is_dir() and any(path.iterdir()) and not _is_geoattr_run(path):
        raise InputError(
            f"the output folder {given!r} is not empty and holds no previous geoattr run (no run.json with "
            f"{RUN_MARKER!r}); geoattr replaces the whole output folder, so it only writes into a new or empty "
            f"folder or one of its own earlier outputs: {hint}, e.g. {str(Path(given) / 'geoattr_output')!r}")
    return path


def _commit(tmp: Path, out: Path) -> None:
    """Move the finished ``tmp`` to ``out``; a previous ``out`` is removed only once the new one is in place."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if old.exists():
        shutil.rmtree(old)
    os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def staged_output(out: str | os.PathLike, *, inputs: Iterable[str | os.PathLike] = ()) -> Iterator[Path]:
    """Write a run into a temporary folder and move it to ``out`` when the block ends without error.

    Parameters
    ----------
    out : str or path-like
        The output folder; checked with :func:`check_output_folder` first.
    inputs : iterable of str or path-like, optional
        Input files and folders that must not lie inside ``out``.

    Yields
    ------
    Path
        The temporary folder ``<parent>/.<name>.partial-<pid>`` to write into.

    Raises
    ------
    InputError
        From :func:`check_output_folder`, or when a file cannot be written in the
        temporary folder (permission, disk full...), naming the file and the folder.

    Notes
    -----
    When the block raises, the temporary folder is removed and ``out`` is left as it
    was.  A run killed without cleaning up leaves its temporary folder, whose name
    (``.partial-``) says it is incomplete; ``out`` is untouched.  The next run into
    ``out`` deletes such folders whose process no longer exists, with a
    :class:`~geoattr.exceptions.GeoattrWarning` naming them.
    """
    given = str(out)
    path = check_output_folder(out, inputs=inputs)
    tmp = path.parent / f".{path.name}.partial-{os.getpid()}"
    _remove_stale(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
    except OSError as err:
        raise InputError(f"cannot create the output folder {given!r}: {err.strerror or err} "
                         f"({err.filename or tmp}); choose another --out") from err
    try:
        yield tmp
        _commit(tmp, path)
    except OSError as err:
        if err.filename is None or not _inside(Path(err.filename).resolve(), tmp):
            raise
        name = Path(err.filename).resolve().relative_to(tmp)
        raise InputError(f"cannot write {str(name)!r} in the output folder {given!r}: {err.strerror or err}; "
                         "check the free space and the permissions, or choose another --out") from err
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _remove_stale(path: Path) -> None:
    """Delete the ``.partial-<pid>`` folders of ``path`` left by runs that were killed, saying so."""
    stale = []
    for p in path.parent.glob(f".{path.name}.partial-*"):
        pid = p.name.rsplit("-", 1)[-1]
        if p.is_dir() and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)
            stale.append(p.name)
    if stale:
        warnings.warn(f"removed {len(stale)} incomplete output folder(s) of interrupted runs: "
                      f"{', '.join(sorted(stale))}", GeoattrWarning, stacklevel=4)


def relocate(value: object, tmp: Path, out: Path) -> object:
    """Map paths inside ``tmp`` to the same paths inside ``out`` (in dicts, lists and tuples too).

    Parameters
    ----------
    value : object
        A path, or a dict, list or tuple holding paths; other values are returned as they are.
    tmp, out : Path
        The temporary folder and the output folder.

    Returns
    -------
    object
        ``value`` with every path under ``tmp`` rewritten under ``out``.
    """
    if isinstance(value, Path):
        return out / value.relative_to(tmp) if _inside(value, tmp) else value
    if isinstance(value, dict):
        return {k: relocate(v, tmp, out) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(relocate(v, tmp, out) for v in value)
    return value


@contextmanager
def collect_warnings() -> Iterator[list[str]]:
    """Collect the geoattr warnings raised in the block, for a run's ``run.json``.

    Yields
    ------
    list of str
        Filled when the block ends: one ``"<WarningClass>: <message>"`` per distinct
        :class:`~geoattr.exceptions.GeoattrWarning`, in order.  Other warnings are
        emitted again as they were.
    """
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GeoattrWarning)
        yield messages
    for w in caught:
        if issubclass(w.category, GeoattrWarning):
            messages.append(f"{w.category.__name__}: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    messages[:] = list(dict.fromkeys(messages))
