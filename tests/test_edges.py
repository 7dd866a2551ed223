"""Network and plug-in edges: an address that is not a Dask scheduler fails in bounded time with one line naming
it; a plug-in that exits, loads nothing or is not Python is an error, never a silent success; a claim whose
measurement returns the wrong thing is named."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sandbox import claims, cli, plugins, sweeps


@contextlib.contextmanager
def _listener(greeting: bytes | None) -> Iterator[str]:
    """A loopback TCP server that accepts connections and then stays silent (``greeting`` None) or talks first, as
    an SSH server does. -> its address."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop, held = threading.Event(), []

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = server.accept()
                held.append(conn)
                if greeting is not None:
                    conn.sendall(greeting)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()


@pytest.mark.parametrize("greeting, words", [
    (None, "no Dask handshake within 2 s"),
    (b"SSH-2.0-OpenSSH_9.2\r\n" * 10, "does not speak Dask's protocol"),
])
def test_an_address_that_is_not_a_scheduler_fails_in_bounded_time(greeting, words, monkeypatch, capsys):
    pytest.importorskip("distributed")
    monkeypatch.setattr(sweeps, "HANDSHAKE", 2.0)
    with _listener(greeting) as address:
        t0 = time.monotonic()
        assert cli.main(["claims", "--fast", "--only", "cfg-is-not-q0", "--scheduler", address]) == 2
        elapsed = time.monotonic() - t0
    err = capsys.readouterr().err
    assert words in err and address in err and err.count("\n") == 1, err
    assert elapsed < 2.0 + 5.0 + 5.0           # the handshake, the thread's grace and the start-up


@pytest.mark.parametrize("make, words", [
    (lambda d: (d / "plugdir").mkdir() or "plugdir", "is a folder"),
    (lambda d: (d / "x.txt").write_text("x = 1\n") and "x.txt", "is not a .py file"),
    (lambda d: (d / "exits.py").write_text("import sys\nsys.exit(0)\n") and "exits.py", "exited while loading"),
    (lambda d: (d / "empty.py").write_text("y = 2\n") and "empty.py", "registered nothing"),
    (lambda d: "bad name", "neither a .py file nor a module name"),
])
def test_a_plugin_that_loads_nothing_is_an_error(make, words, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    before = dict(plugins.LOADED)
    spec = make(tmp_path)
    assert cli.main(["zoo", "--plugin", spec]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1, err
    assert plugins.LOADED == before


@dataclass(frozen=True)
class _Config:
    n: int = 1
    seed: int = 0


def test_a_claim_whose_measure_returns_the_wrong_thing_is_named():
    claims.register(claims.Claim("returns-a-tuple", "nobody", "nothing", lambda config, needs: ("holds", "why"),
                                 _Config(), _Config()))
    try:
        with pytest.raises(TypeError, match=r"claim returns-a-tuple: measure must return a Verdict.*got tuple"):
            claims.run(("returns-a-tuple",))
    finally:
        del claims.REGISTRY["returns-a-tuple"]
