"""Google Colab: the "Open in Colab" badges and the set-up at the top of every notebook's first cell.

    python tools/colab.py           # write the badges and the Colab set-up into notebooks/ and README.md
    python tools/colab.py --check   # exit 1 if a notebook or the README is not up to date
    make colab                      # run every notebook as Colab would, in a venv with Colab's versions
    make colab-env                  # only prepare that venv (--prepare)

Writing is idempotent: re-run it after notebooks were re-executed elsewhere. Only cell sources change,
never outputs; off Colab the set-up does nothing and prints nothing, so existing outputs stay valid.

The set-up is the notebook's first code cell, collapsed: a Colab form (`# @title`, `cellView: form`) shown
as one line on Colab, and `source_hidden` in JupyterLab. On Colab it clones the collection and installs it;
it downloads nothing itself: each notebook's loaders fetch the data that notebook uses, once (CIFAR-10 in
02-07 and 11, the spam corpus in 09 and 10, nothing in 01 and 08).

`--simulate` (what `make colab` calls) builds a venv with the packages Colab preinstalls, at Colab's
versions (constraints/current.txt with COLAB_PINS; no lrp_helpers, no iNNvestigate), then executes each
notebook in quick mode from a scratch folder, as Colab does from /content, with `google.colab` importable
and git told to fetch REPOSITORY from this checkout. So the set-up's clone and its installs really run;
only the downloads are replaced by $LRP_CIFAR10_DIR and $LRP_SPAM_DIR when they are set.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The GitHub repository the badges open and the set-up clones: the one place to change it.
REPOSITORY = "lrp-teaching/lrp-tutorial"
BRANCH = "main"

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
# What Colab's runtime already has, of what the notebooks need (versions: constraints/current.txt).
COLAB_PREINSTALLED = (
    "tensorflow",
    "tf-keras",
    "numpy",
    "matplotlib",
    "ipywidgets",
    "scipy",
    "scikit-learn",
    "scikit-image",
    "h5py",
    "tqdm",
    "ipykernel",
    "nbconvert",
)
# Where Colab's published versions differ from the current stack's lock: its front end runs ipywidgets 7,
# while JupyterLab 4 needs ipywidgets 8.
COLAB_PINS = ("ipywidgets==7.7.*",)
SETUP_TITLE = "# @title Set-up: run this cell first (on Colab it also fetches the collection)"
SETUP_CONDITION = 'if "google.colab" in sys.modules and not os.path.isdir("../lrp_helpers"):'
# The data each loader fetches, and the variable `make colab` points it to instead of downloading.
DATASETS = {"load_cifar10": "LRP_CIFAR10_DIR", "load_spamassassin": "LRP_SPAM_DIR"}
# The set-up cell collapsed: a form on Colab, a hidden input in JupyterLab.
SETUP_METADATA = {"cellView": "form", "jupyter": {"source_hidden": True}}


def colab_url(notebook: str) -> str:
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/notebooks/{notebook}"


def badge(notebook: str) -> str:
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(notebook)})"


def setup_code() -> str:
    """The block that starts every notebook's first code cell (as `ruff format` would write it)."""
    clone = REPOSITORY.split("/")[1]
    return f'''{SETUP_TITLE}
import os
import sys

{SETUP_CONDITION}  # on Colab, once
    import subprocess

    os.environ["TF_USE_LEGACY_KERAS"] = "1"  # Keras 2 for iNNvestigate, before TensorFlow loads
    if not os.path.isdir("{clone}"):  # the collection: lrp_helpers, trained models
        repository = "https://github.com/{REPOSITORY}"
        subprocess.run(["git", "clone", "--quiet", "--depth=1", repository, "{clone}"], check=True)
    # Colab has all other dependencies; --no-deps keeps its versions (iNNvestigate's are stale)
    pip_install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--ignore-requires-python"]
    subprocess.run([*pip_install, "./{clone}", "innvestigate==2.1.2"], check=True)
    os.chdir("{clone}/notebooks")
'''


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _strip_setup(source: str) -> str:
    """The cell source without an earlier version of the set-up block (its imports, the `if` and its body)."""
    lines = _lines(source)
    start = 0
    while start < len(lines) and (
        lines[start].strip() in ("import os, sys", "import os", "import sys", "") or lines[start].startswith("# @title")
    ):
        start += 1
    if start == 0 or start == len(lines) or not lines[start].startswith(SETUP_CONDITION):
        return source
    end = start + 1
    while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()):
        end += 1
    return "".join(lines[end:])


def with_setup(source: str) -> str:
    return setup_code() + "\n" + _strip_setup(source).lstrip("\n")


def with_badge(markdown: str, notebook: str) -> str:
    """The title line, then the badge line, then the rest (an older badge line replaced)."""
    title, _, rest = markdown.partition("\n")
    rest = re.sub(r"^\n?\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)\n", "", rest)
    return (
        f"{title}\n\n{badge(notebook)}\n{rest}" if rest.startswith("\n") else f"{title}\n\n{badge(notebook)}\n\n{rest}"
    )


def updated_notebook(path: Path) -> str:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook["cells"]
    cells[0]["source"] = _lines(with_badge("".join(cells[0]["source"]), path.name))
    first_code = next(cell for cell in cells if cell["cell_type"] == "code")
    first_code["source"] = _lines(with_setup("".join(first_code["source"])))
    first_code["metadata"] = {**first_code.get("metadata", {}), **SETUP_METADATA}
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def updated_readme(text: str) -> str:
    """The contents table's notebook links, each followed by its Colab badge."""

    def link(match):
        return f"{match['link']} {badge(match['file'])}"

    text = re.sub(r" \[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)", "", text)
    return re.sub(r"(?P<link>\[[^\]]+\]\(notebooks/(?P<file>[0-9]{2}_[^)]+\.ipynb)\))", link, text)


def out_of_date() -> list[Path]:
    stale = [path for path in NOTEBOOKS if path.read_text(encoding="utf-8") != updated_notebook(path)]
    readme = ROOT / "README.md"
    return stale + ([readme] if readme.read_text() != updated_readme(readme.read_text()) else [])


def write() -> None:
    for path in out_of_date():
        text = updated_readme(path.read_text()) if path.suffix == ".md" else updated_notebook(path)
        path.write_text(text, encoding="utf-8")
        print(f"updated {path.relative_to(ROOT)}")


def datasets_used(path: Path) -> set[str]:
    """The variables of DATASETS whose loader the notebook's code calls (its set-up cell left out)."""
    cells = [cell for cell in json.loads(path.read_text(encoding="utf-8"))["cells"] if cell["cell_type"] == "code"]
    code = "\n".join("".join(cell["source"]) for cell in cells[1:])
    return {variable for loader, variable in DATASETS.items() if f"{loader}(" in code}


VENV = ROOT / ".venv-colab"


def run(*command, **kwargs):
    subprocess.run(command, check=True, **kwargs)


def colab_constraints(constraints: Path) -> str:
    """The current stack's lock with COLAB_PINS in place of its lines for those packages and their front ends."""
    replaced = {"ipywidgets", "widgetsnbextension", "jupyterlab-widgets", "jupyterlab_widgets"}
    kept = [line for line in constraints.read_text().splitlines() if line.split("==")[0].strip() not in replaced]
    return "\n".join([*kept, *COLAB_PINS]) + "\n"


def prepare(python: str, constraints: Path) -> None:
    """The venv as Colab is before the set-up cell: Colab's packages, without lrp_helpers and iNNvestigate."""
    start = time.perf_counter()
    if not (VENV / "bin" / "python").exists():
        run(python, "-m", "venv", str(VENV))
        run(str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    # Reset on every run, so that each run's set-up cells install lrp_helpers and iNNvestigate anew.
    run(str(VENV / "bin" / "python"), "-m", "pip", "uninstall", "--quiet", "--yes", "lrp_helpers", "innvestigate")
    colab_lock = VENV / "colab-constraints.txt"
    colab_lock.write_text(colab_constraints(constraints))
    run(str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c", str(colab_lock), *COLAB_PREINSTALLED)
    print(f"Colab venv ready in {time.perf_counter() - start:.0f} s", flush=True)


def simulate(python: str, constraints: Path) -> None:
    """Every notebook through its Colab set-up, in quick mode, in a venv with Colab's packages."""
    start = time.perf_counter()
    prepare(python, constraints)
    with tempfile.TemporaryDirectory(prefix="colab-") as scratch:
        content, startup = Path(scratch) / "content", Path(scratch) / "startup"
        content.mkdir()
        startup.mkdir()
        # Colab's kernel has google.colab imported before the first cell runs.
        (startup / "sitecustomize.py").write_text(
            "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n"
        )
        # A fresh Colab runtime: an empty home (no Keras cache), and only the data the notebook uses is at hand,
        # so a notebook that touched other data would try to download it, which fails offline.
        env = {
            **{name: value for name, value in os.environ.items() if name not in DATASETS.values()},
            "HOME": scratch,
            "PYTHONPATH": str(startup),
            "LRP_QUICK": "1",
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"url.file://{ROOT}.insteadOf",
            "GIT_CONFIG_VALUE_0": f"https://github.com/{REPOSITORY}",
        }
        env.pop("TF_USE_LEGACY_KERAS", None)
        for path in NOTEBOOKS:
            notebook_start = time.perf_counter()
            copy = content / path.name  # Colab runs a notebook opened from GitHub in /content
            copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
            run(
                str(VENV / "bin" / "jupyter"),
                "nbconvert",
                "--to",
                "notebook",
                "--execute",
                "--inplace",
                "--ExecutePreprocessor.timeout=1800",
                str(copy),
                env={**env, **{name: os.environ[name] for name in datasets_used(path) if name in os.environ}},
            )
            print(f"{path.name}: ran on the Colab versions in {time.perf_counter() - notebook_start:.0f} s", flush=True)
    print(f"All {len(NOTEBOOKS)} notebooks ran through the Colab set-up in {time.perf_counter() - start:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if anything is out of date")
    parser.add_argument("--simulate", action="store_true", help="run every notebook as Colab would")
    parser.add_argument("--prepare", action="store_true", help="only prepare the venv that --simulate uses")
    parser.add_argument("--python", default="python3.13", help="the Python for the Colab venv (--simulate, --prepare)")
    parser.add_argument("--constraints", type=Path, default=ROOT / "constraints" / "current.txt")
    args = parser.parse_args()
    if args.prepare:
        prepare(args.python, args.constraints)
    elif args.simulate:
        simulate(args.python, args.constraints)
    elif args.check:
        stale = out_of_date()
        if stale:
            sys.exit("Not up to date (run python tools/colab.py): " + ", ".join(p.name for p in stale))
    else:
        write()


if __name__ == "__main__":
    main()
