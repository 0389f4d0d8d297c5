"""Sphinx configuration of the geoattr documentation (built with ``-W`` by ``make test``).

Pages are reStructuredText (``.rst``) or MyST Markdown (``.md``); the notebooks of
``notebooks/`` are copied into ``docs/notebooks/`` (git-ignored) and rendered by myst-nb.
``GEOATTR_DOCS_EXECUTE`` selects myst-nb's execution mode: ``make docs`` sets ``cache``
(every notebook is executed, the outputs are shown; reruns reuse the cache), the test
build (``tests/test_docs.py``) leaves the default ``off`` (code and text only, fast;
``tests/test_notebooks.py`` executes the notebooks instead).
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if (HERE.parent / "geoattr" / "__init__.py").is_file():  # a checkout: document its sources
    sys.path.insert(0, str(HERE.parent))

import geoattr  # noqa: E402

project = "geoattr"
author = "geoattr contributors"
copyright = "geoattr contributors"
release = geoattr.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",  # MyST Markdown pages and the notebook gallery (no pandoc needed)
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "jupyter_execute", "**.ipynb_checkpoints"]
html_theme = "alabaster"
html_theme_options = {"description": "Spatial econometrics of residential attractiveness"}
# The site's navigation in the sidebar of every page, except the ~650 generated API
# pages: resolving the global toctree for each of them was a sixth of the build time.
# ("*" does not match across "/": the pages of docs/ and of the gallery get the navigation.)
_NAVIGATION = ["about.html", "navigation.html", "relations.html", "searchbox.html"]
html_sidebars = {
    "*": _NAVIGATION,
    "notebooks/*": _NAVIGATION,
    "generated/*": ["about.html", "relations.html", "searchbox.html"],
}

# -- MyST and the notebook gallery --------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

CHECKOUT = Path(geoattr.__file__).resolve().parents[1]
NOTEBOOKS = CHECKOUT / "notebooks"
GALLERY = HERE / "notebooks"
NORWAY_DATA = Path(os.environ.get("GEOATTR_NORWAY_DATA", CHECKOUT.parent / "shared" / "data" / "norway"))
shutil.rmtree(GALLERY, ignore_errors=True)
if NOTEBOOKS.is_dir():  # a checkout: the gallery shows the notebooks of notebooks/
    GALLERY.mkdir()
    for nb in sorted(NOTEBOOKS.glob("*.ipynb")):
        shutil.copy2(nb, GALLERY / nb.name)
# the kernel inherits the environment; the copies sit one folder deeper than notebooks/
os.environ.setdefault("GEOATTR_NORWAY_DATA", str(NORWAY_DATA))

nb_execution_mode = os.environ.get("GEOATTR_DOCS_EXECUTE", "off")
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_cache_path = str(HERE / "_build" / ".jupyter_cache")
# the real-data notebook runs only where the Statistics Norway folder is
nb_execution_excludepatterns = [] if NORWAY_DATA.is_dir() else ["*norway_real_data*"]
nb_merge_streams = True

# Offline: no intersphinx mappings. Not nitpicky: types such as ``pandas.DataFrame``
# in the numpydoc sections are not resolved.
nitpicky = False

# autosummary writes one page per module and per public object into generated/
# (git-ignored). It is emptied first so that pages of removed objects do not linger
# (an orphan page is a warning, hence an error under -W).
shutil.rmtree(HERE / "generated", ignore_errors=True)
autosummary_generate = True
autosummary_generate_overwrite = True
autosummary_imported_members = False
autosummary_ignore_module_all = False

autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc sections carry the types

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True


def _module_facts(modname: str, mod: object, modules: set[str]) -> dict[str, object]:
    """List what the page of one module shows (plain data, so the config can be pickled).

    Public names are ``__all__`` when the module has one, otherwise the public functions
    and classes defined in the module itself. ``shadowed`` maps a public routine or class
    whose ``module.name`` is also a sub-module (``geoattr.compare`` is a function and a
    module) to where it is defined, relative to ``modname``: the page
    ``generated/geoattr.compare`` belongs to the module, and the function is linked to
    its definition (``geoattr.compare.compare``) instead of getting a page of its own.
    """
    if hasattr(mod, "__all__"):
        public = list(mod.__all__)
    else:
        public = [
            n
            for n, o in vars(mod).items()
            if not n.startswith("_")
            and (inspect.isroutine(o) or inspect.isclass(o))
            and getattr(o, "__module__", None) == modname
        ]
    functions: list[str] = []
    classes: list[str] = []
    exceptions: list[str] = []
    data: list[str] = []
    submodules: list[str] = []
    shadowed: dict[str, str] = {}
    for name in public:
        obj = getattr(mod, name, None)
        if inspect.ismodule(obj):
            submodules.append(name)
        elif (inspect.isroutine(obj) or inspect.isclass(obj)) and f"{modname}.{name}" in modules:
            target = f"{obj.__module__}.{obj.__qualname__}"
            shadowed[name] = target.removeprefix(f"{modname}.")
        elif inspect.isclass(obj) and issubclass(obj, BaseException):
            exceptions.append(name)
        elif inspect.isclass(obj):
            classes.append(name)
        elif inspect.isroutine(obj):
            functions.append(name)
        elif not (name.startswith("__") and name.endswith("__")):
            data.append(name)
    return {
        "functions": functions,
        "classes": classes,
        "exceptions": exceptions,
        "data": data,
        "submodules": submodules,
        "shadowed": shadowed,
    }


def _module_context() -> dict[str, dict[str, object]]:
    """Collect the facts of every importable ``geoattr`` module, keyed by module name."""
    names = ["geoattr"] + [m.name for m in pkgutil.walk_packages(geoattr.__path__, "geoattr.")]
    imported = {}
    for modname in names:
        try:
            imported[modname] = importlib.import_module(modname)
        except Exception:  # a module that does not import cannot be in api.rst either
            continue
    return {name: _module_facts(name, mod, set(names)) for name, mod in imported.items()}


# Used by _templates/autosummary/*.rst.
autosummary_context = {"modules": _module_context()}


def _drop_type_docstring(app, what, name, obj, options, lines):
    """Drop ``int``'s or ``dict``'s docstring from a constant without a ``#:`` comment."""
    if what in ("data", "attribute") and obj is not None and not inspect.isclass(obj):
        own = inspect.getdoc(type(obj))
        if own and "\n".join(lines).strip() == inspect.cleandoc(own).strip():
            lines.clear()


def setup(app):
    """Register the docstring hook."""
    app.connect("autodoc-process-docstring", _drop_type_docstring)
