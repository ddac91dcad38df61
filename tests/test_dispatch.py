"""The host layer's structure: kernel choice as a pure function, one launch table per family, per-device caches,
and a kernel package that imports nothing from the API."""

import ast
import pathlib

import numpy as np
import pytest

import numbaconv
from numbaconv import _algorithms, _cpu, _launch_conv, _launch_transpose
from numbaconv._algorithms import kernel_for, select, select_resize, select_transpose, tuning_candidates
from numbaconv._params_transpose import conv_transpose_params, resize_conv_params


def conv(x_shape, w_shape, **kw):
    return numbaconv.conv_params(
        "conv2d" if len(x_shape) == 4 else f"conv{len(x_shape) - 2}d", len(x_shape) - 2, x_shape, w_shape, **kw
    )


@pytest.mark.parametrize(
    "params,algorithm,backend,kernel",
    [
        # "direct" is the plane kernel where it applies (stride 1, channels-first, <= 16 channels per group) ...
        (conv((1, 4, 8, 8), (4, 4, 3, 3), padding=1), "direct", "cpu", "plane"),
        # ... and the row kernel elsewhere: strided, channels-last, many channels per group, 3-D.
        (conv((1, 4, 8, 8), (4, 4, 3, 3), stride=2), "direct", "cpu", "row"),
        (conv((1, 8, 8, 4), (4, 4, 3, 3), layout="NHWC"), "direct", "cpu", "row"),
        (conv((1, 32, 8, 8), (4, 32, 3, 3)), "direct", "cpu", "row"),
        (conv((1, 2, 4, 4, 4), (2, 2, 3, 3, 3)), "direct", "cpu", "row"),
        # "depthwise" is one of four kernels.
        (conv((1, 4, 8, 8), (4, 1, 3, 3), groups=4), "depthwise", "cpu", "plane"),
        (conv((1, 4, 8, 8), (4, 1, 3, 3), groups=4, stride=2), "depthwise", "cpu", "depthwise_row"),
        (conv((1, 8, 8, 4), (4, 1, 3, 3), groups=4, stride=2, layout="NHWC"), "depthwise", "cpu", "depthwise_nhwc"),
        (conv((1, 8, 8, 4), (8, 1, 3, 3), groups=4, stride=2, layout="NHWC"), "depthwise", "cpu", "depthwise_row"),
        (conv((1, 4, 5, 5, 5), (4, 1, 3, 3, 3), groups=4, stride=2), "depthwise", "cpu", "depthwise_row3d"),
        (conv((1, 8, 8, 8), (8, 8, 3, 3), padding=1), "winograd_f2", "cpu", "winograd_f2"),
        (conv((1, 8, 8, 8), (8, 8, 1, 1)), "pointwise", "cpu", "pointwise"),
        # CUDA: depthwise is the direct gather with groups == C_in.
        (conv((1, 4, 8, 8), (4, 1, 3, 3), groups=4), "depthwise", "cuda", "direct"),
        (conv((1, 4, 8, 8), (8, 4, 3, 3)), "gemm", "cuda", "gemm"),
    ],
)
def test_select_names_the_kernel_that_runs(params, algorithm, backend, kernel):
    assert select(params, algorithm, backend) == kernel
    assert (kernel, backend) in _launch_conv.LAUNCHERS


def test_auto_is_the_algorithm_rule_then_its_kernel():
    for params in (
        conv((1, 64, 16, 16), (64, 64, 3, 3), padding=1),
        conv((1, 4, 8, 8), (4, 1, 3, 3), groups=4),
        conv((2, 3, 9, 9), (5, 3, 1, 1)),
        conv((1, 1, 64, 64), (1, 1, 15, 15)),
        conv((1, 8, 8, 8), (16, 8, 3, 3), stride=2),
    ):
        for backend in ("cpu", "cuda"):
            assert select(params, "auto", backend) == kernel_for(
                params, _algorithms.select_algorithm(params, backend), backend
            )


def test_every_selectable_kernel_has_a_launcher():
    shapes = [
        ((1, 4, 8, 8), (4, 4, 3, 3), {}),
        ((1, 4, 8, 8), (4, 1, 3, 3), {"groups": 4}),
        ((1, 8, 8, 4), (4, 1, 3, 3), {"groups": 4, "layout": "NHWC"}),
        ((1, 9, 9, 9), (9, 9, 1, 1), {}),
        ((1, 2, 4, 4, 4), (2, 1, 3, 3, 3), {"groups": 2}),
        ((1, 1, 40, 40), (1, 1, 15, 15), {}),
        ((1, 16, 9, 9), (16, 16, 3, 3), {"padding": 1}),
    ]
    for x_shape, w_shape, kw in shapes:
        params = conv(x_shape, w_shape, **kw)
        for backend in ("cpu", "cuda"):
            kernels = tuning_candidates(params, backend)
            assert len(kernels) == len(set(kernels))
            for name in _algorithms.applicable_algorithms(params, backend):
                assert (select(params, name, backend), backend) in _launch_conv.LAUNCHERS


def test_transpose_and_resize_selection():
    p = conv_transpose_params("conv_transpose2d", 2, (1, 16, 5, 5), (16, 8, 4, 4), stride=2)
    assert select_transpose(p) == "gemm" and select_transpose(p, "direct") == "direct"
    assert select_transpose(p, "auto", "cuda") == "direct"
    for backend in ("cpu", "cuda"):
        assert (select_transpose(p, "auto", backend), backend) in _launch_transpose.LAUNCHERS
    with pytest.raises(ValueError, match=r"algorithm='gemm' is unknown; valid CUDA algorithms: 'auto', 'direct'"):
        select_transpose(p, "gemm", "cuda")
    r = resize_conv_params("resize_conv2d", (1, 8, 4, 4), (16, 8, 3, 3), padding=1)
    assert select_resize(r) == "gemm" and select_resize(r, "direct") == "row"
    assert select_resize(r, "auto", "cuda") == "gemm"
    with pytest.raises(ValueError, match=r"resize_conv2d: algorithm='winograd' is unknown"):
        select_resize(r, "winograd")


def test_tuning_reports_the_kernel_that_ran():
    from numbaconv import tuning

    tuning.clear()
    try:
        x, w = np.ones((1, 4, 6, 6), np.float32), np.ones((4, 4, 3, 3), np.float32)
        numbaconv.conv2d(x, w, padding=1, algorithm="tune")
        (entry,) = tuning.choices().values()
        params = numbaconv.conv_params("conv2d", 2, x.shape, w.shape, padding=1)
        assert set(entry["seconds"]) == set(tuning_candidates(params)) and "plane" in entry["seconds"]
    finally:
        tuning.clear()


def test_cpu_index_tables_are_cached_per_geometry_with_a_bound():
    params = conv((1, 2, 7, 7), (2, 2, 3, 3), padding=1)
    assert _cpu.index_maps(params) is _cpu.index_maps(params)
    assert _cpu.index_maps.cache_info().maxsize == 256
    for got, want in zip(_cpu.index_maps(params), params.index_maps()):
        np.testing.assert_array_equal(got, want)


def test_kernels_import_nothing_from_numbaconv():
    import numbaconv.kernels as kernels

    root = pathlib.Path(kernels.__file__).parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level > 0 or not (node.module or "").startswith("numbaconv"), f"{path.name}: {node.module}"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("numbaconv") for a in node.names), path.name


@pytest.mark.cuda
def test_device_caches_are_keyed_by_device(monkeypatch):
    """A second device gets its own copy of every cached device array; the same device reuses its copy."""
    from numbaconv import _cuda, _gpu
    from numbaconv._launch_transpose import device_tap_tables

    params = conv((1, 2, 5, 5), (2, 2, 3, 3), padding=1)
    tparams = conv_transpose_params("conv_transpose2d", 2, (1, 2, 3, 3), (2, 2, 3, 3), stride=2)
    cached = [
        lambda: _gpu.device_zeros(4, "float32"),
        lambda: _gpu.device_constant((0.5, 0, 1, 6), "float64"),
        lambda: _gpu.device_index_maps(params),
        lambda: device_tap_tables(tparams),
    ]
    for make in cached:
        monkeypatch.setattr(_cuda, "device_id", lambda: 0)
        first = make()
        assert make() is first
        monkeypatch.setattr(_cuda, "device_id", lambda: 1)
        second = make()
        assert second is not first and make() is second


def test_no_private_name_crosses_modules():
    """Modules share only public names: `from .module import _name` and `module._name` do not occur."""
    root = pathlib.Path(numbaconv.__file__).parent
    modules = {p.stem for p in root.glob("*.py")}
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        # names this file binds to sibling modules: `from . import conv as _conv_ops` binds _conv_ops
        bound = {
            a.asname or a.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level and not node.module
            for a in node.names
            if a.name in modules and a.name != path.stem
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                private = [a.name for a in node.names if a.name.startswith("_") and a.name != "__future__"]
                assert not private, f"{path.name} imports {private} from {node.module}"
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name)
                and node.value.id in (modules - {path.stem}) | bound
            ):
                raise AssertionError(f"{path.name} uses {node.value.id}.{node.attr}")


def test_out_may_overlap_no_input_of_any_op_biases_included():
    """One place checks `out=` for every op, against every array the call reads (biases too)."""
    x = np.ones((1, 2, 4, 4), np.float32)
    buf = np.zeros(64 + 8, np.float32)
    out, bias = buf[:64].reshape(1, 4, 4, 4), buf[60:64]
    dw, pw = np.ones((2, 1, 3, 3), np.float32), np.ones((4, 2), np.float32)
    with pytest.raises(ValueError, match=r"separable_conv2d: out overlaps bias"):
        numbaconv.separable_conv2d(x, dw, pw, bias=bias, padding=1, out=out)
    with pytest.raises(ValueError, match=r"separable_conv2d: out overlaps depthwise_bias"):
        numbaconv.separable_conv2d(x, dw, pw, depthwise_bias=buf[62:64], padding=1, out=out)
    with pytest.raises(ValueError, match=r"conv_transpose2d: out overlaps bias"):
        numbaconv.conv_transpose2d(x, np.ones((2, 4, 1, 1), np.float32), bias, out=out)
