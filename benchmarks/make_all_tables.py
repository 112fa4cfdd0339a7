"""The tables of every notebook after a `make all` run, recorded so that tests can hold the prose to a second
full run in which every model was retrained, besides the committed one.

    .venv/bin/python benchmarks/make_all_tables.py CHECKOUT --record benchmarks/results/make_all_tables.json

CHECKOUT: a clone in which `make all` (or `benchmarks/pipeline.py --main-job`) has just run; its notebooks
hold that run's outputs and its models/ the models it trained. The record: every `report.table` of every
notebook, the test accuracies of the retrained miniVGG and poisoned miniVGG, the commit and the machine.
`tests/notebook_outputs.run_table(..., run="make all")` reads it.
"""

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

import machine  # benchmarks/machine.py

from lrp_helpers.report import tables_in


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path, help="a clone in which make all has run")
    parser.add_argument("--record", metavar="FILE", required=True, help="the JSON file to write")
    args = parser.parse_args()
    notebooks = sorted((args.checkout / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        parser.error(f"{args.checkout} has no notebooks/NN_*.ipynb")
    commit = subprocess.run(
        ["git", "-C", str(args.checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    models = {
        name: json.loads((args.checkout / "models" / f"{name}.json").read_text())
        for name in ("mini_vgg", "mini_vgg_poisoned", "text_transformer", "text_transformer_planted")
    }
    record = {
        "date": datetime.date.today().isoformat(),
        "machine": machine.record(),
        "commit": commit,
        "models": {
            name: {"seed": meta["seed"], "test_accuracy": meta["test_accuracy"]} for name, meta in models.items()
        },
        "tables": {path.stem: tables_in(json.loads(path.read_text(encoding="utf-8"))) for path in notebooks},
    }
    Path(args.record).write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    for name, meta in record["models"].items():
        print(f"{name:<26} seed {meta['seed']}, test accuracy {meta['test_accuracy']:.2%}")
    print(f"{sum(map(len, record['tables'].values()))} tables of {len(notebooks)} notebooks recorded in {args.record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
