"""Generates Python code and a descriptor set (for `make breaking`) from protos/ (run by `make generate`).

Envoy's descriptor set is built from the generated modules when its config is rendered
(server/agent_sessions/edge/descriptor.py).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
GEN = ROOT / "gen"
PYTHON_OUT = GEN / "python"
DESCRIPTOR = GEN / "descriptor.pb"
BUF_DEPS = GEN / "buf-deps"


def site_packages_with(relative: str) -> Path:
    """Returns the sys.path entry holding `relative` (googleapis-common-protos' .proto files)."""
    for entry in sys.path:
        if entry and (Path(entry) / relative).is_file():
            return Path(entry)
    raise SystemExit(f"{relative} not found: install googleapis-common-protos")


def descriptor_set(protos: Path, out: Path, *extra: str) -> None:
    """Compiles every .proto under `protos` into a descriptor set (imports and source info)."""
    googleapis = site_packages_with("google/api/annotations.proto")
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    sources = sorted(str(p.relative_to(protos)) for p in protos.rglob("*.proto"))
    args = [
        "grpc_tools.protoc",
        f"-I{protos}",
        f"-I{googleapis}",
        f"-I{well_known}",
        "--include_imports",
        "--include_source_info",
        f"--descriptor_set_out={out}",
        *extra,
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def main() -> None:
    if len(sys.argv) == 3:
        # `make breaking`: an image of another revision's protos for `buf breaking --against`.
        descriptor_set(Path(sys.argv[1]), Path(sys.argv[2]))
        return
    googleapis = site_packages_with("google/api/annotations.proto")
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))

    shutil.rmtree(PYTHON_OUT, ignore_errors=True)
    PYTHON_OUT.mkdir(parents=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{googleapis}",
        f"-I{well_known}",
        f"--python_out={PYTHON_OUT}",
        f"--pyi_out={PYTHON_OUT}",
        f"--grpc_python_out={PYTHON_OUT}",
        "--include_imports",
        "--include_source_info",
        f"--descriptor_set_out={DESCRIPTOR}",
        *sources,
        # Listed so the descriptor set holds the error detail types (ErrorInfo, BadRequest), as
        # the one rendered for Envoy does (without them Envoy cannot print `details`).
        "google/rpc/error_details.proto",
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # protoc writes error_details' Python module too; the real one comes from googleapis.
    shutil.rmtree(PYTHON_OUT / "google", ignore_errors=True)
    for package in {p.parent for p in PYTHON_OUT.rglob("*_pb2.py")}:
        for folder in [package, *package.parents]:
            if folder == PYTHON_OUT or PYTHON_OUT not in folder.parents:
                break
            (folder / "__init__.py").touch()

    # Buf resolves google/api and google/rpc from here (the Buf Schema Registry is out of reach).
    shutil.rmtree(BUF_DEPS, ignore_errors=True)
    for name in ("api/annotations", "api/http", "rpc/status", "rpc/error_details"):
        target = BUF_DEPS / "google" / f"{name}.proto"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(googleapis / "google" / f"{name}.proto", target)
    print(f"generated {PYTHON_OUT.relative_to(ROOT)} and {DESCRIPTOR.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
