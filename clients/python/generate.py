"""Regenerates the client's committed protobuf and gRPC code from the repository's protos/.

Run from the repository root: `.venv/bin/python clients/python/generate.py`. The output is
deterministic for a given grpcio-tools version, so CI can regenerate and `git diff --exit-code`.

protoc writes absolute imports (`from agentsessions.v1 import resources_pb2`), which would resolve
to the server's top-level `agentsessions` package when both are installed in one environment. They
are rewritten to import from inside this package instead.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

HERE = Path(__file__).resolve().parent
PROTOS = HERE.parent.parent / "protos"
PACKAGE = "agent_sessions_client._proto"
OUT = HERE / "src" / "agent_sessions_client" / "_proto"
PROTO_PACKAGE = "agentsessions"

# `from agentsessions.v1 import x` and the module name protoc passes to the descriptor builder.
IMPORT = re.compile(rf"^from {PROTO_PACKAGE}\.", re.MULTILINE)
BUILDER_NAME = re.compile(rf"(BuildTopDescriptorsAndMessages\(DESCRIPTOR, ')({PROTO_PACKAGE}\.)")


def include_dir_with(relative: str) -> Path:
    """Returns the sys.path entry holding `relative` (googleapis-common-protos' .proto files)."""
    for entry in sys.path:
        if entry and (Path(entry) / relative).is_file():
            return Path(entry)
    raise SystemExit(f"{relative} not found: install googleapis-common-protos")


def rewrite(text: str) -> str:
    """Points protoc's absolute imports of the API's own modules into this package."""
    text = IMPORT.sub(f"from {PACKAGE}.{PROTO_PACKAGE}.", text)
    return BUILDER_NAME.sub(rf"\g<1>{PACKAGE}.\g<2>", text)


def main() -> None:
    googleapis = include_dir_with("google/api/annotations.proto")
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    sources = sorted(p.relative_to(PROTOS).as_posix() for p in PROTOS.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp)
        args = [
            "grpc_tools.protoc",
            f"-I{PROTOS}",
            f"-I{googleapis}",
            f"-I{well_known}",
            f"--python_out={staging}",
            f"--pyi_out={staging}",
            f"--grpc_python_out={staging}",
            *sources,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        shutil.rmtree(OUT, ignore_errors=True)
        for generated in sorted(staging.rglob("*.py*")):
            target = OUT / generated.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(rewrite(generated.read_text(encoding="utf-8")), encoding="utf-8")
    for folder in sorted({OUT, *(p.parent for p in OUT.rglob("*.py"))}):
        while folder != OUT.parent:
            (folder / "__init__.py").touch()
            folder = folder.parent
    print(f"generated {OUT.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
