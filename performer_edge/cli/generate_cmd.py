"""`performer generate:wasm NAME --lang c|assemblyscript|wat`: scaffold a function from a
template, with the command that builds it written at the top of the source."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path
from typing import Any

from performer_edge.errors import ConfigError, InvalidInput
from performer_edge.functions.deploy import check_name

TEMPLATES = {"c": "hello.c", "assemblyscript": "hello.ts", "wat": "hello.wat"}


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "generate:wasm", help="scaffold a function (C, AssemblyScript or WAT)"
    )
    parser.add_argument("name", help="the function's name (also the file's)")
    parser.add_argument("--lang", choices=sorted(TEMPLATES), default="c")
    parser.add_argument("--dir", type=Path, default=Path("."), help="where to write it")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        name = check_name(args.name)
    except InvalidInput as exc:
        raise ConfigError(exc.message) from exc
    template = TEMPLATES[args.lang]
    source = resources.files("performer_edge.functions").joinpath("templates", template)
    target = args.dir / f"{name}{Path(template).suffix}"
    if target.exists():
        raise ConfigError(f"{target} exists; not overwriting it")
    args.dir.mkdir(parents=True, exist_ok=True)
    target.write_text(source.read_text().replace("NAME", name))
    print(f"wrote {target}")
    build = next(line for line in target.read_text().splitlines() if "Build:" in line)
    print("build it with:" + build.split("Build:", 1)[1].replace("NAME", name))
    print(f"deploy it with: performer functions deploy {name} {name}.wasm")
    return 0
