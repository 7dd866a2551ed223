"""Sweeps: grids of independent units run by one executor, each unit cached under its own key.

An experiment states its independent units (a setting, a mixture, a seed x method, a phase-diagram cell) as
configs that carry everything their result depends on, the seed included, and hands them to ``map``:

    results = sweeps.map(fn, configs, name="high-noise-window", labels=[...], desc="high-noise-hurts")

``fn(config)`` is a module-level function (other processes receive it by reference). Wherever it runs, each unit
goes through ``cache.cached`` under ``name``, its config and ``fn``'s code, in the one cache folder, so an
interrupted sweep resumes where it stopped and a re-run is free. The executor in force runs the units:

    serial (default)   in this process, in order; nothing beyond the package is needed
    local workers      ``with sweeps.local(2): ...`` (``--workers N``): a local Dask cluster of N worker processes
    a cluster          ``with sweeps.connect(address): ...`` (``--scheduler ADDRESS``): an existing Dask scheduler

(``dask.distributed``: ``pip install 'mclr-sandbox[distributed]'``). Every worker takes this process's torch thread
count (one by default), cache folder (on a cluster, a folder every worker shares) and plug-ins, so any executor
returns the same bits. One progress bar counts the units (terminal only). A failing unit does not stop the others
(their results are cached); when all are done one ``SweepError`` names the setting of every unit that failed.
Ctrl-C cancels the units not yet started; entries are written atomically, so none is ever partial (and a local
cluster, once closed, removes the temporary file of a worker killed mid-write). A unit whose
worker dies is retried once (a local cluster; an existing cluster follows its scheduler's ``allowed-failures``).
A unit that calls ``map`` itself runs its inner units serially where it runs.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from tqdm.auto import tqdm

from . import cache, plugins, threads
from .files import remove_orphans

T = TypeVar("T")
EXTRA = "pip install 'mclr-sandbox[distributed]'"
PLUGIN = "mclr-sandbox-settings"        # the worker plug-in that gives workers this process's settings
HANDSHAKE = 30.0                        # seconds a scheduler has to answer: a port that accepts and stays silent
                                        # would otherwise hold the command forever (Dask's own timeout misses it)


class SweepError(RuntimeError):
    """Some units of a sweep failed (the others completed, cached where the sweep caches them); the message names
    each failed unit's setting."""


class Executor(Protocol):
    """Runs zero-argument ``tasks`` (picklable), returning their results in order; ``labels`` name them in errors,
    ``order`` is the order in which to start them when they run side by side (costliest first)."""

    def run(self, tasks: Sequence[Callable[[], Any]], labels: Sequence[str], order: Sequence[int], desc: str,
            progress: bool) -> list[Any]: ...


class Serial:
    """Every unit in this process, in order."""

    def run(self, tasks: Sequence[Callable[[], Any]], labels: Sequence[str], order: Sequence[int], desc: str,
            progress: bool) -> list[Any]:
        results, failures = [], []
        with tqdm(total=len(tasks), desc=desc, disable=not progress, leave=False) as bar:
            for task, label in zip(tasks, labels):
                try:
                    results.append(task())
                except Exception as err:   # the other units go on; every failure is reported at the end
                    results.append(None)
                    failures.append((label, err))
                bar.update()
        _raise_failures(failures, len(tasks), desc)
        return results


class Dask:
    """Every unit as one task of a ``dask.distributed`` client; results gathered as they complete."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def run(self, tasks: Sequence[Callable[[], Any]], labels: Sequence[str], order: Sequence[int], desc: str,
            progress: bool) -> list[Any]:
        from distributed import as_completed

        token = uuid.uuid4().hex[:8]
        # the scheduler starts tasks in the order they were submitted: the costliest first balances the workers
        futures = [self.client.submit(tasks[i], key=f"{desc}-{i}-{token}", pure=False) for i in order]
        where = {f.key: i for f, i in zip(futures, order)}
        results: list[Any] = [None] * len(tasks)
        failures = []
        try:
            with tqdm(total=len(tasks), desc=desc, disable=not progress, leave=False) as bar:
                for future in as_completed(futures):
                    i = where[future.key]
                    if future.status == "error":
                        failures.append((labels[i], future.exception()))
                    else:
                        results[i] = future.result()
                    bar.update()
        except BaseException:       # Ctrl-C or SIGTERM: what has not started never starts
            self.client.cancel(futures)
            raise
        _raise_failures(failures, len(tasks), desc)
        return results


def _raise_failures(failures: list[tuple[str, BaseException]], total: int, desc: str) -> None:
    if failures:
        shown = "; ".join(f"{label}: {type(err).__name__}: {err}" for label, err in failures[:5])
        more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
        raise SweepError(f"{len(failures)} of {total} units of {desc} failed (the others completed): {shown}{more}")


_EXECUTOR: contextvars.ContextVar[Executor | None] = contextvars.ContextVar("executor", default=None)
_PROGRESS: contextvars.ContextVar[bool] = contextvars.ContextVar("progress", default=False)


def executor() -> Executor:
    """The executor in force (``Serial()`` unless inside ``using``, ``local`` or ``connect``)."""
    return _EXECUTOR.get() or Serial()


@contextlib.contextmanager
def using(runner: Executor) -> Iterator[Executor]:
    """Run every sweep inside the block with ``runner``."""
    token = _EXECUTOR.set(runner)
    try:
        yield runner
    finally:
        _EXECUTOR.reset(token)


@contextlib.contextmanager
def showing(progress: bool) -> Iterator[None]:
    """Inside the block, sweeps that are not told otherwise show a progress bar when ``progress`` (the command
    line: on a terminal, unless ``--quiet``)."""
    token = _PROGRESS.set(bool(progress))
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def _unit(name: str | None, fn: Callable[..., T], config: Any, inputs: tuple) -> T:
    """One unit, wherever it runs: ``fn(config, *inputs)`` through the cache (values stored with ``cache.pack``), or
    directly when ``name`` is None (``fn`` caches its result itself)."""
    if name is None:
        return fn(config, *inputs)
    return cache.cached(name, config, lambda: fn(config, *inputs), encode=cache.pack, decode=cache.unpack,
                        code=(fn,))


def map(fn: Callable[..., T], configs: Sequence[Any], name: str | None, labels: Sequence[str] | None = None,
        desc: str | None = None, cost: Sequence[float] | None = None, inputs: Sequence[tuple] | None = None,
        progress: bool | None = None) -> list[T]:
    """``[fn(c, *inputs_c) for c in configs]``, each unit cached under ``name`` and its config ``c`` (None: ``fn``
    caches itself) and run by the executor in force (module docstring). ``inputs``: per unit, arguments that are
    not part of its key, because the config determines them (a net trained from the config, say); ``labels`` say
    which setting each unit is (default: its config); ``desc`` names the sweep; ``cost`` (any scale) lets workers
    start the costliest units first (default: in order); ``progress``: one bar over the units (default: as
    ``showing`` says)."""
    configs = list(configs)
    n = len(configs)
    labels = [str(c) for c in configs] if labels is None else list(labels)
    cost = [0.0] * n if cost is None else list(cost)
    inputs = [()] * n if inputs is None else [tuple(i) for i in inputs]
    if not len(labels) == len(cost) == len(inputs) == n:
        raise ValueError(f"labels, cost and inputs must have one entry per unit ({n}), got {len(labels)}, "
                         f"{len(cost)} and {len(inputs)}")
    order = sorted(range(n), key=lambda i: -cost[i])       # stable: equal costs keep their order
    tasks = [functools.partial(_unit, name, fn, c, i) for c, i in zip(configs, inputs)]
    show = _PROGRESS.get() if progress is None else progress
    # units already in the cache are read here: an executor (a cluster to start, workers to ship them to) only
    # gets the ones left to compute
    stored = [name is not None and _stored(name, fn, c) for c in configs]
    kept, left = [i for i in range(n) if stored[i]], [i for i in range(n) if not stored[i]]
    position = {i: k for k, i in enumerate(left)}
    out: list[Any] = [None] * n
    read = Serial().run([tasks[i] for i in kept], [labels[i] for i in kept], [], desc or name or "sweep", False)
    computed = executor().run([tasks[i] for i in left], [labels[i] for i in left],
                              [position[i] for i in order if not stored[i]], desc or name or "sweep", show)
    for i, value in zip(kept + left, read + computed):
        out[i] = value
    return out


def _stored(name: str, fn: Callable[..., Any], config: Any) -> bool:
    """Whether unit ``config`` of sweep ``name`` has an entry in the cache (one that fails to read is computed
    again where it is read: ``cache.cached``)."""
    path = cache.path_for(name, config, (fn,))
    return path is not None and path.is_file()


# ------------------------------------------------------------------------------------------------ Dask clusters
def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ValueError(f"running sweeps on workers needs dask.distributed: {EXTRA}") from None
    return distributed


def _setup_plugin(own: bool) -> Any:
    """A worker plug-in that gives every worker (and every restarted one) this process's settings; ``own``: the
    workers are this process's children, which leave Ctrl-C to it (it cancels the sweep and closes them), instead
    of each printing its own interruption."""
    distributed = _distributed()

    class Settings(distributed.WorkerPlugin):
        def __init__(self, env: dict[str, str], n_threads: int, loaded: list[str], own: bool) -> None:
            self.env, self.n_threads, self.loaded, self.own = env, n_threads, loaded, own

        def setup(self, worker: Any) -> None:
            os.environ.update(self.env)
            threads.use(self.n_threads)
            # tqdm's default lock is a named multiprocessing semaphore, made by the first bar (even a disabled
            # one); a worker stopped mid-task (Ctrl-C closes the cluster) never unlinks it, and the resource
            # tracker reports it leaked. A worker draws no bars: a thread lock does.
            tqdm.set_lock(threading.RLock())
            for spec in self.loaded:
                plugins.load(spec)
            if self.own and threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, signal.SIG_IGN)

    root = cache.directory()
    env = {"MCLR_SANDBOX_CACHE": "off" if root is None else str(root.resolve())}
    import torch

    return Settings(env, torch.get_num_threads(), list(plugins.LOADED.values()), own)


@contextlib.contextmanager
def connect(address: str, own: bool = False) -> Iterator[Executor]:
    """Run sweeps inside the block on the Dask cluster whose scheduler is at ``address``
    (e.g. ``tcp://10.0.0.5:8786``); its workers need this package (and the plug-ins loaded here) installed.
    ``own``: the cluster is this process's own (``local``)."""
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"scheduler must be an address such as tcp://host:8786, got {address!r}")
    runner, close = _session(address.strip(), own)
    try:
        with using(runner):
            yield runner
    finally:
        close()


def _session(address: str, own: bool) -> tuple[Dask, Callable[[], None]]:
    """A runner on the scheduler at ``address`` with this process's settings on its workers, and what closes it."""
    distributed = _distributed()
    client = _client(distributed, address)
    try:
        client.register_plugin(_setup_plugin(own), name=PLUGIN)
    except BaseException:
        client.close()
        raise

    def close() -> None:
        with contextlib.suppress(Exception):      # a cluster that went away has nothing left to unregister
            client.unregister_worker_plugin(PLUGIN)
        client.close()
    return Dask(client), close


def _client(distributed: Any, address: str) -> Any:
    """A Dask client of the scheduler at ``address``, or one ``ValueError`` naming the address within ``HANDSHAKE``
    seconds: refused, silent (the attempt is left to a daemon thread) or not speaking Dask's protocol (a service
    that talks first makes Dask read a length of exabytes)."""
    outcome: dict[str, Any] = {}

    def attempt() -> None:
        try:
            outcome["client"] = distributed.Client(address, timeout=f"{HANDSHAKE}s")
        except BaseException as err:       # in this thread every failure is an answer for the caller
            outcome["error"] = err

    thread = threading.Thread(target=attempt, name=f"connect {address}", daemon=True)
    thread.start()
    thread.join(HANDSHAKE + 5.0)
    if "client" in outcome:
        return outcome["client"]
    if thread.is_alive():
        raise ValueError(f"scheduler {address}: no Dask handshake within {HANDSHAKE:g} s (it accepts connections "
                         f"but does not answer as a Dask scheduler)")
    err = outcome["error"]
    if isinstance(err, (OSError, TimeoutError)):
        raise ValueError(f"scheduler {address}: cannot connect ({err})") from None
    first = (str(err).strip().splitlines() or [""])[0][:120]
    raise ValueError(f"scheduler {address}: what answers there does not speak Dask's protocol "
                     f"({type(err).__name__}: {first})") from None


@contextlib.contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Ignore SIGINT in this process while the block starts child processes, which inherit it (a spawned Python
    keeps an ignored SIGINT ignored): a terminal's Ctrl-C goes to the whole process group, and this process alone
    handles it (it cancels the sweep and closes the cluster), from the workers' first moment on, not only once the
    settings plug-in has reached them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class LocalCluster:
    """The executor of ``local``: a local Dask cluster of ``workers`` processes (one unit at a time each), started
    when the first unit that is not cached arrives; a run whose units are all cached starts none."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._stack = contextlib.ExitStack()
        self._runner: Dask | None = None

    @property
    def started(self) -> bool:
        """Whether the cluster is running (it starts with the first unit that is not cached)."""
        return self._runner is not None

    @property
    def client(self) -> Any:
        """The cluster's Dask client (started now if it was not)."""
        return self._start().client

    def run(self, tasks: Sequence[Callable[[], Any]], labels: Sequence[str], order: Sequence[int], desc: str,
            progress: bool) -> list[Any]:
        return self._start().run(tasks, labels, order, desc, progress) if tasks else []

    def _start(self) -> Dask:
        if self._runner is None:
            distributed = _distributed()
            import dask

            # one retry for a unit whose worker died (the scheduler runs in this process, so this setting applies)
            self._stack.enter_context(dask.config.set({"distributed.scheduler.allowed-failures": 1}))
            with _children_ignore_sigint():
                cluster = distributed.LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                                   dashboard_address=":0", silence_logs=logging.ERROR)
            self._stack.callback(cluster.close)
            self._runner, close = _session(cluster.scheduler_address, own=True)
            self._stack.callback(close)
        return self._runner

    def close(self) -> None:
        """Close the cluster, if it started; remove what a worker killed mid-write left in the cache folder."""
        started = self.started
        self._stack.close()
        self._runner = None
        root = cache.directory()
        if started and root is not None and root.is_dir():
            remove_orphans(root)


@contextlib.contextmanager
def local(workers: int) -> Iterator[Executor]:
    """Run sweeps inside the block on a local Dask cluster of ``workers`` processes (``LocalCluster``)."""
    from .validation import as_int

    workers = as_int(workers, "workers", minimum=1)
    _distributed()
    runner = LocalCluster(workers)
    try:
        with using(runner):
            yield runner
    finally:
        runner.close()
