"""Run every bash block of README.md as written, after the set-up (``make readme``): in a scratch folder that sees
the clone's ``examples/``, with the virtual environment's commands first on PATH, as a reader's shell would after
``. .venv/bin/activate``. The set-up block itself (the one that creates the venv) is skipped. Stops at the first
failing block and exits non-zero."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    runnable = [b for b in blocks if "python3 -m venv" not in b]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    with tempfile.TemporaryDirectory(prefix="readme-") as scratch:
        (Path(scratch) / "examples").symlink_to(ROOT / "examples")
        for i, block in enumerate(runnable, 1):
            t0 = time.perf_counter()
            done = subprocess.run(["bash", "-e", "-c", block], cwd=scratch, env=env, capture_output=True, text=True)
            print(f"bash block {i}/{len(runnable)}: {'ok' if done.returncode == 0 else 'FAILED'} "
                  f"({time.perf_counter() - t0:.1f} s)")
            if done.returncode != 0:
                print(block, done.stdout[-2000:], done.stderr[-2000:], sep="\n")
                return 1
    print(f"all {len(runnable)} bash blocks of README.md ran as written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
