"""--executor ray on a local 2-CPU Ray cluster: both digits folds train at once and give the in-process CSV byte
for byte; an in-process run goes on under Ray, and a worker killed mid-fold is retried from the state it had
shipped; Ctrl-C cancels the tasks. Skipped, with the reason, where Ray is not installed.

One cluster, one prepared digits and one in-process reference run serve every test (each costs seconds)."""
import _thread
import json
import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from clirun import start
from harness import cli, distributed, executors, folds, paths, pipeline
from harness.config import RunConfig
from harness.errors import HarnessError

ARGS = ("submit", "digits", "--folds", "2", "--epochs", "2", "--image-size", "16", "--batch-size", "64",
        "--workers", "1", "--seed", "5")


class Lab:
    """digits prepared in one HARNESS_HOME, its in-process reference run, and a local Ray cluster."""

    def __init__(self, home: Path, ray):
        self.home, self.ray = home, ray
        with paths.home_at(home):  # built, decoded and split here, so that the runs below only read them
            config = pipeline.resolve(RunConfig("digits", folds=2, image_size=16, workers=1, seed=5))
            comp, cache = pipeline.load_data(config)
            folds.load_or_make(comp, cache, 2, 5)
        # The reference trains in a child process while the cluster starts and the first Ray run trains: two cores.
        self.reference_run = start(home, *ARGS, "--run-id", "in-process")
        ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False)

    def reference(self) -> Path:
        """The reference's run folder, once it has finished."""
        assert self.reference_run.wait(timeout=600) == 0, f"the in-process reference run failed; see {self.home.parent}"
        return self.home / "runs" / "digits" / "in-process"

    def csv(self, run_id: str) -> bytes:
        return (self.home / "submissions" / "digits" / f"{run_id}.csv").read_bytes()

    def submit(self, run_id: str, *more) -> int:
        with paths.home_at(self.home):
            return cli.main([*ARGS, "--executor", "ray", "--run-id", run_id, *more])


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install -e '.[ray]' (make install adds it)")
    lab = Lab(tmp_path_factory.mktemp("ray") / "home", ray)
    yield lab
    ray.shutdown()  # with every process the cluster started
    lab.reference_run.kill()
    lab.reference_run.wait()


def test_two_folds_at_once_give_the_in_process_csv(lab, capsys):
    assert lab.submit("ray") == 0
    out = capsys.readouterr().out
    for fold in ("1/2", "2/2"):
        assert f"fold {fold} started on" in out and f"fold {fold} finished on" in out
    assert re.search(r"fold 1/2 started on \S+ CPU", out)
    assert "out-of-fold accuracy" in out  # the usual summary
    run = lab.home / "runs" / "digits" / "ray"
    assert sorted(p.name for p in (run / "fold1").iterdir()) == ["model.weights.h5", "oof.npy", "result.json",
                                                                 "test.npy"]
    assert json.loads((run / "config.json").read_text()) == json.loads((lab.reference() / "config.json").read_text())
    assert lab.csv("ray") == lab.csv("in-process")


def test_a_killed_worker_s_fold_resumes_from_the_state_it_shipped(lab, capfd):
    """An in-process run stopped after fold 1 goes on under Ray; fold 2's worker is killed after its first epoch."""
    run = lab.home / "runs" / "digits" / "stopped"
    run.mkdir()
    shutil.copy(lab.reference() / "config.json", run)
    shutil.copytree(lab.reference() / "fold0", run / "fold0")

    def kill_after_first_epoch():  # the driver holds fold 2's epoch-1 state: kill the worker training it
        return (run / "fold1" / "backup" / "state.json").exists() and [
            os.kill(pid, signal.SIGKILL) or pid for pid in _workers("digits fold 2/2")]
    killed, stop = _when(kill_after_first_epoch)
    code = lab.submit("stopped")
    stop.set()
    out = capfd.readouterr().out
    assert code == 0 and killed, "the run ended before the worker could be killed"
    assert "fold 1/2 started" not in out, "the fold trained in-process was trained again"
    assert re.search(r"fold 2/2: its worker on \S+ CPU was lost \(WorkerCrashedError\); retry 1/2 from its last "
                     r"saved state", out)
    deadline = time.monotonic() + 10  # a worker's output reaches the driver's stdout a little later
    while "resuming from" not in out and time.monotonic() < deadline:
        time.sleep(0.2)
        out += capfd.readouterr().out
    assert re.search(r"digits fold 2/2 pid=\d+\)\S* resuming from \S+ after epoch 1", out)
    assert json.loads((run / "fold1" / "result.json").read_text())["status"] == "done"
    assert not (run / "fold1" / "backup").exists(), "a finished fold keeps no resume state"
    assert lab.csv("stopped") == lab.csv("in-process")


def test_ctrl_c_cancels_the_fold_tasks(lab):
    # Ctrl-C as in a terminal: a process started in the background (as a CI step may be) ignores SIGINT.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupted, stop = _when(lambda: _workers("digits fold 1/2") and (_thread.interrupt_main() or True))
    try:
        code = lab.submit("interrupted")
    finally:
        stop.set()
        signal.signal(signal.SIGINT, before)
    assert interrupted and code == 130
    deadline = time.monotonic() + 30
    while (_workers("digits fold 1/2") or _workers("digits fold 2/2")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _workers("digits fold 1/2") and not _workers("digits fold 2/2"), "a fold task outlived Ctrl-C"


def test_the_cache_travels_through_the_object_store_where_the_files_are_not_shared(lab, tmp_path):
    from harness import competition, prepare

    pixels = np.arange(2 * 8 * 8 * 3, dtype=np.uint8).reshape(2, 8, 8, 3)
    shipped = prepare.Cache(tmp_path, 8, pixels, np.arange(2), ["a", "b"], [0, 1], ["", ""], pixels[:1], ["t"],
                            np.ones(1, bool), [""], 0, [])
    job = distributed.Job(distributed._declarations(competition.get("digits")), None, None, tmp_path / "elsewhere",
                          b"{}")
    got = distributed._worker_cache(job, [lab.ray.put(distributed._in_memory(shipped))])
    np.testing.assert_array_equal(got.train_x, pixels)
    assert got.train_ids == ["a", "b"] and got.folder.parent == paths.cache_dir("digits", 8)
    with pytest.raises(HarnessError, match="cannot read the image cache .*elsewhere"):
        distributed._worker_cache(job, [])


def test_pack_and_unpack_mirror_a_fold_folder(tmp_path):
    worker, driver = tmp_path / "worker", tmp_path / "driver"
    files = {"backup/epoch2.weights.h5": b"w2", "backup/state.json": b'{"epoch": 2}', ".tmp-partial": b"x"}
    for name, data in files.items():
        (worker / name).parent.mkdir(parents=True, exist_ok=True)
        (worker / name).write_bytes(data)
    (driver / "backup").mkdir(parents=True)
    (driver / "backup" / "epoch1.weights.h5").write_bytes(b"w1")  # superseded
    distributed.unpack(distributed.pack(worker), driver)
    assert sorted(p.relative_to(driver).as_posix() for p in driver.rglob("*") if p.is_file()) == [
        "backup/epoch2.weights.h5", "backup/state.json"]
    distributed.unpack({"result.json": b"{}"}, driver)  # the fold's final files: its resume state goes
    assert [p.name for p in driver.iterdir()] == ["result.json"]


def test_executor_options_are_checked_before_any_work(capsys, monkeypatch):
    assert cli.main([*ARGS, "--gpus-per-fold", "2"]) == 2
    assert "apply only with --executor ray. Received: --executor in-process" in capsys.readouterr().err
    ray_args = cli.parser().parse_args([*ARGS, "--executor", "ray", "--gpus-per-fold", "0"])
    with pytest.raises(HarnessError, match="at least 1. Received: --gpus-per-fold 0"):
        executors.from_args(ray_args)
    monkeypatch.setattr(distributed.importlib.util, "find_spec", lambda name, *args: None)
    with pytest.raises(HarnessError, match=r"needs Ray here and on every node: pip install -e '.\[ray\]'"):
        executors.from_args(cli.parser().parse_args([*ARGS, "--executor", "ray"]))


def _workers(name: str) -> list:
    """Pids of this test process's descendants whose title is Ray's `ray::<task name>`."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, _, rest = stat.read_text().partition(" (")
            children.setdefault(int(rest.rsplit(") ", 1)[1].split()[1]), []).append(int(pid))
        except (OSError, IndexError, ValueError):
            pass  # the process ended while being read
    found, stack = [], [os.getpid()]
    while stack:
        for pid in children.get(stack.pop(), []):
            stack.append(pid)
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] == f"ray::{name}".encode():
                    found.append(pid)
            except OSError:
                pass
    return found


def _when(condition, timeout=240):
    """A thread that polls `condition()` until it returns something true, kept in the returned list."""
    out, stop = [], threading.Event()

    def watch():
        deadline = time.monotonic() + timeout
        while not stop.is_set() and time.monotonic() < deadline:
            value = condition()
            if value:
                out.append(value)
                return
            time.sleep(0.02)
    threading.Thread(target=watch, daemon=True).start()
    return out, stop
