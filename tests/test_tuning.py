"""algorithm="tune": the autotuner's choice rule, its memory (in process and on disk) and its results."""

import json
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

import numbaconv
from numbaconv import _launch_conv, tuning
from numbaconv._algorithms import tuning_candidates

import reference as ref
from helpers import assert_close, rand


@pytest.fixture(autouse=True)
def fresh_tuner(monkeypatch):
    """Every test starts with no tuned signatures and no tuning file."""
    monkeypatch.delenv(tuning.ENV_FILE, raising=False)
    monkeypatch.setattr(tuning, "_env_loaded", False)
    monkeypatch.setattr(tuning, "_reported", set())
    tuning.clear()
    yield
    tuning.clear()


@pytest.fixture
def launches(monkeypatch):
    """The kernels the conv family launches, in order (every launch goes through numbaconv._launch_conv's table)."""
    calls = []
    for key, real in list(_launch_conv.LAUNCHERS.items()):

        def counting(*args, _real=real, _kernel=key[0]):
            calls.append(_kernel)
            return _real(*args)

        monkeypatch.setitem(_launch_conv.LAUNCHERS, key, counting)
    return calls


def test_choose_times_every_candidate_keeps_the_fastest_and_remembers_it():
    cost = {"a": 3.0, "b": 1.0, "c": 2.0}
    clock, ran = [0.0], []

    def run(name):
        ran.append(name)
        clock[0] += cost[name]

    assert tuning.choose("k", ("a", "b", "c"), run, timer=lambda: clock[0]) == "b"
    assert ran == ["a"] * (1 + tuning.REPEAT) + ["b"] * (1 + tuning.REPEAT) + ["c"] * (1 + tuning.REPEAT)
    assert tuning.choices()["k"] == {"algorithm": "b", "seconds": {"a": 3.0, "b": 1.0, "c": 2.0}}
    ran.clear()
    assert tuning.choose("k", ("a", "b", "c"), run, timer=lambda: clock[0]) == "b"
    assert ran == []
    # A remembered choice that is not a candidate here is tuned again.
    assert tuning.choose("k", ("a", "c"), run, timer=lambda: clock[0]) == "c"


def test_conv_tune_matches_reference_and_times_only_the_first_call(launches):
    x, w, b = rand((2, 8, 12, 11), np.float32, 1), rand((8, 8, 3, 3), np.float32, 2), rand((8,), np.float32, 3)
    want = ref.conv(x, w, b, pads=1, act="relu")
    got = numbaconv.conv2d(x, w, b, padding=1, activation="relu", algorithm="tune")
    assert_close(got, want, np.float32)
    params = numbaconv.conv_params("conv2d", 2, x.shape, w.shape, padding=1, activation="relu")
    candidates = tuning_candidates(params)
    assert len(candidates) == len(set(candidates)) >= 2
    assert len(launches) == len(candidates) * (1 + tuning.REPEAT) + 1
    (entry,) = tuning.choices().values()
    assert entry["algorithm"] in candidates and set(entry["seconds"]) == set(candidates)
    assert launches[-1] == entry["algorithm"]
    launches.clear()
    out = np.full(want.shape, np.nan, np.float32)
    assert numbaconv.conv2d(x, w, b, padding=1, activation="relu", algorithm="tune", out=out) is out
    assert launches == [entry["algorithm"]]
    assert_close(out, want, np.float32)


def test_signatures_differ_by_geometry_dtype_and_layout():
    x, w = rand((1, 4, 8, 8), np.float64, 4), rand((4, 4, 3, 3), np.float64, 5)
    numbaconv.conv2d(x, w, padding=1, algorithm="tune")
    numbaconv.conv2d(x.astype(np.float32), w.astype(np.float32), padding=1, algorithm="tune")
    numbaconv.conv2d(x, w, padding=0, algorithm="tune")
    numbaconv.conv2d(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), w, padding=1, layout="NHWC", algorithm="tune")
    assert len(tuning.choices()) == 4


def test_shuffle_and_depthwise_tune_match_reference():
    x = rand((1, 6, 7, 9), np.float32, 6)
    w = rand((6, 3, 3, 3), np.float32, 7)
    got = numbaconv.shuffle_conv2d(x, w, groups=2, padding=1, algorithm="tune")
    want = ref.conv(x, w, pads=1, groups=2)
    assert_close(got, want.reshape(1, 2, 3, 7, 9).transpose(0, 2, 1, 3, 4).reshape(want.shape), np.float32)
    wd = rand((6, 1, 3, 3), np.float32, 8)
    assert_close(
        numbaconv.depthwise_conv2d(x, wd, padding=1, algorithm="tune"), ref.conv(x, wd, pads=1, groups=6), np.float32
    )
    assert len(tuning.choices()) == 2


def test_tuning_file_round_trip_and_environment_variable(tmp_path, monkeypatch, launches):
    path = tmp_path / "tune.json"
    monkeypatch.setenv(tuning.ENV_FILE, str(path))
    x, w = rand((1, 4, 9, 9), np.float32, 9), rand((5, 4, 3, 3), np.float32, 10)
    numbaconv.conv2d(x, w, algorithm="tune")
    saved = json.loads(path.read_text())
    assert saved["format"] == "numbaconv-tuning-1" and saved["choices"] == tuning.choices()
    # A new process (simulated): memory cleared, the file loaded on first use, no timing runs.
    tuning.clear()
    monkeypatch.setattr(tuning, "_env_loaded", False)
    launches.clear()
    numbaconv.conv2d(x, w, algorithm="tune")
    assert launches == [saved["choices"].popitem()[1]["algorithm"]]
    # save/load by hand; a loaded entry does not replace one tuned in this process
    other = tmp_path / "copy.json"
    tuning.save(other)
    tuning.clear()
    assert tuning.load(other) == 1 and tuning.choices() == json.loads(other.read_text())["choices"]


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"choices": {}}))
    with pytest.raises(ValueError, match=r"tuning.load: .*bad.json' is not a numbaconv tuning file"):
        tuning.load(bad)


def test_tune_checks_out_before_timing_anything(launches):
    x, w = rand((1, 4, 9, 9), np.float32, 11), rand((5, 4, 3, 3), np.float32, 12)
    with pytest.raises(ValueError, match=r"conv2d: out.shape"):
        numbaconv.conv2d(x, w, algorithm="tune", out=np.empty((1, 5, 7, 8), np.float32))
    assert launches == [] and tuning.choices() == {}


def _fake_run(name):
    """A candidate that costs nothing: `choose` with it exercises only the memory and the file."""


def test_load_names_a_truncated_file(tmp_path):
    bad = tmp_path / "cut.json"
    bad.write_text('{"format": "numbaconv-tuning-1", "choi')
    with pytest.raises(ValueError, match=r"tuning.load: .*cut.json' is not a numbaconv tuning file"):
        tuning.load(bad)


def test_save_merges_what_the_file_holds(tmp_path):
    path = tmp_path / "tune.json"
    other = {"format": "numbaconv-tuning-1", "choices": {"theirs": {"algorithm": "a", "seconds": {"a": 1.0}}}}
    path.write_text(json.dumps(other))
    tuning.choose("ours", ("b",), _fake_run)
    tuning.save(path)
    assert set(json.loads(path.read_text())["choices"]) == {"theirs", "ours"}
    assert tuning.choices().keys() == {"ours"}  # saving reads the file but does not load it
    path.write_text("not json")
    with pytest.raises(ValueError, match=r"tuning.save: .*tune.json' is not a numbaconv tuning file"):
        tuning.save(path)
    assert path.read_text() == "not json"  # a file that is not ours is never overwritten


def test_threads_tuning_into_one_file_keep_every_choice(tmp_path, monkeypatch):
    path = tmp_path / "tune.json"
    monkeypatch.setenv(tuning.ENV_FILE, str(path))
    errors = []

    def work(t):
        try:
            for i in range(15):
                tuning.choose(f"t{t}-{i}", ("a", "b"), _fake_run)
        except Exception as exc:  # pragma: no cover - the failure this test exists to catch
            errors.append(exc)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a failed write would be reported as a warning
        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert len(json.loads(path.read_text())["choices"]) == 8 * 15
    assert not list(tmp_path.glob("*.tmp"))


_WRITER = """
import sys
from numbaconv import tuning
for i in range(40):
    tuning.choose(f"{sys.argv[1]}-{i}", ("a", "b"), lambda name: None)
"""


def test_processes_tuning_into_one_file_keep_every_choice(tmp_path):
    path = tmp_path / "tune.json"
    env = {**__import__("os").environ, tuning.ENV_FILE: str(path)}
    writers = [
        subprocess.Popen([sys.executable, "-W", "error", "-c", _WRITER, name], env=env, stderr=subprocess.PIPE)
        for name in ("p", "q", "r")
    ]
    for w in writers:
        _, err = w.communicate(timeout=120)
        assert w.returncode == 0, err.decode()
    keys = set(json.loads(path.read_text())["choices"])
    assert keys == {f"{name}-{i}" for name in "pqr" for i in range(40)}


@pytest.mark.parametrize("problem", ["truncated", "unwritable"])
def test_a_bad_tuning_file_warns_once_and_the_call_still_returns(tmp_path, monkeypatch, problem):
    if problem == "truncated":
        path = tmp_path / "tune.json"
        path.write_text('{"format": "numbaconv-tuning-1", "choi')
        match = r"tuning file .* cannot be read"
    else:
        (tmp_path / "a_file").write_text("")
        path = tmp_path / "a_file" / "tune.json"  # a folder that is a file: NotADirectoryError
        match = r"tuning file .* cannot be written"
    monkeypatch.setenv(tuning.ENV_FILE, str(path))
    x, w = rand((1, 4, 9, 9), np.float32, 13), rand((5, 4, 3, 3), np.float32, 14)
    with pytest.warns(RuntimeWarning, match=match) as record:
        got = numbaconv.conv2d(x, w, algorithm="tune")
        numbaconv.conv2d(x, w, padding=1, algorithm="tune")  # a second signature, a second write
    assert_close(got, ref.conv(x, w, None), np.float32)
    assert len([r for r in record if "tuning file" in str(r.message)]) == 1
    assert len(tuning.choices()) == 2
