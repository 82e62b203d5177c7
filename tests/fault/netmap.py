"""Build and configure the connect() rewriting shim (shim/netmap.c) that routes each process's links through
the harness's proxies. See shim/netmap.c for the mechanism and README.md for why it is needed."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "shim" / "netmap.c"
BUILD = HERE / ".build"
LIBRARY = BUILD / "netmap.so"
ENV_TABLE = "STREAMLET_NETMAP"


def build() -> Path:
    """Compile the shim with the machine's gcc when the library is missing or older than its source."""
    if LIBRARY.exists() and LIBRARY.stat().st_mtime >= SOURCE.stat().st_mtime:
        return LIBRARY
    BUILD.mkdir(exist_ok=True)
    tmp = BUILD / f"netmap.so.{os.getpid()}"
    subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o", str(tmp), str(SOURCE),
                    "-ldl"], check=True, capture_output=True, text=True)
    tmp.rename(LIBRARY)  # atomic: a concurrent run never preloads a half-written library
    return LIBRARY


def env_for(table: dict[int, int], base: dict[str, str] | None = None, preload: list[str] | None = None) -> dict:
    """The environment for a process whose loopback connects to port p must go to port table[p]."""
    env = dict(os.environ if base is None else base)
    env[ENV_TABLE] = ",".join(f"{a}={b}" for a, b in sorted(table.items()))
    libs = [str(build())] + list(preload or [])
    if env.get("LD_PRELOAD"):
        libs.append(env["LD_PRELOAD"])
    env["LD_PRELOAD"] = ":".join(libs)
    return env
