"""`python -m numbaconv demo`: its table and its gallery's pictures, checked as data. Nothing here compiles a
kernel: the demo's NumPy baselines stand in for the kernels' results (CI's demo run checks the kernels against
those baselines, and the kernel tests check the kernels)."""

import sys

import numpy as np
import pytest
from scipy.signal import correlate2d

from numbaconv import demo
from numbaconv.analysis import transpose_overlap

CHANNEL_STEPS = ("depthwise 3x3, RGB -> 6 ch", "dense 3x3, RGB -> 3 ch", "separable 3x3, RGB -> 6 -> 2")


def _baselines(rgb, *names):
    steps = demo.build_steps(rgb)
    return [steps[name].baseline()[0] for name in names]


def test_the_image_is_rgb_with_and_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    rgb, source = demo.load_image()
    assert "generated" in source
    assert rgb.shape == (512, 512, 3) and rgb.dtype == np.float32
    assert 0 <= rgb.min() and rgb.max() <= 1
    assert not np.allclose(rgb[..., 0], rgb[..., 1])  # colour, not three copies of one grey image
    monkeypatch.undo()
    pytest.importorskip("matplotlib")
    rgb, source = demo.load_image()
    assert "grace_hopper" in source and rgb.ndim == 3 and rgb.shape[-1] == 3 and rgb.dtype == np.float32


def test_gflops_cell_is_blank_for_ops_without_multiply_adds():
    steps = demo.build_steps(demo.generated_image(16))
    no_macs = [name for name in steps if "pool" in name]
    assert len(no_macs) == 3 and all(steps[name].flops == 0 for name in no_macs)
    assert all(steps[name].flops > 0 for name in steps if name not in no_macs)
    pool = demo.format_row("max-pool", 0.0, 1e-3, 2e-3, 0, True)
    conv = demo.format_row("conv", 0.0, 1e-3, 2e-3, 2_000_000, True)
    assert pool.split()[-1] == "—" and conv.split()[-1] == "2.0"
    assert len(pool) == len(conv)  # the blank cell keeps the column aligned


def test_check_and_time_shows_progress_and_counts_mismatches(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # the fallback counter
    one = np.ones(3)
    steps = {
        "good": demo.Step("good", lambda: one, lambda: one, 6, result=one),
        "bad": demo.Step("bad", lambda: one, lambda: 2 * one, 0, result=one),
    }
    rows, failures = demo.check_and_time(steps, repeat=1)
    assert failures == 1
    assert capsys.readouterr().out.splitlines() == ["timing (best of 1): 1/2 good", "timing (best of 1): 2/2 bad"]
    assert rows[0].startswith("good") and "MISMATCH" not in rows[0]
    assert rows[1].endswith("—  MISMATCH")


def test_progress_uses_tqdm_when_installed(capsys):
    pytest.importorskip("tqdm")
    assert list(demo._progress(["a", "b"], "timing")) == ["a", "b"]
    captured = capsys.readouterr()
    assert "timing" in captured.err and "2/2" in captured.err and captured.out == ""


def test_flip_panels_are_diverging_at_zero_with_a_colour_bar_and_a_zoom():
    flipped = demo.EMBOSS[::-1, ::-1]
    assert not np.array_equal(demo.EMBOSS, flipped) and not np.array_equal(demo.EMBOSS, -flipped)
    corr, conv = (
        a[0] for a in _baselines(demo.generated_image(64), "asymmetric 5x5 correlation", "asymmetric 5x5 convolution")
    )
    assert not np.allclose(conv, corr) and not np.allclose(conv, -corr)  # they differ by more than the sign
    panels = demo.flip_panels(corr, conv)
    maps, kernels, zooms = panels[:3], panels[3], panels[4:]
    for panel, data in zip(maps, (corr, conv, corr - conv)):
        assert np.array_equal(panel.data, data)
    for p in maps + zooms:
        assert p.cmap == "RdBu_r" and p.colorbar and p.vmax > 0 and p.vmin == -p.vmax
    r, c, h, w = maps[0].mark
    assert all(p.mark == (r, c, h, w) for p in maps)
    for whole, zoom in zip(maps, zooms):
        assert np.array_equal(zoom.data, whole.data[r : r + h, c : c + w])
    m = demo.EMBOSS.shape[0]
    assert m <= r and r + h <= 64 - m and m <= c and c + w <= 64 - m  # not the zero-padded border
    inner = np.abs(corr - conv)[m:-m, m:-m]
    assert np.abs(zooms[2].data).mean() > inner.mean()  # the zoom is where the difference is
    assert np.array_equal(kernels.data[:, :m], demo.EMBOSS) and np.array_equal(kernels.data[:, m + 1 :], flipped)


def test_channel_panels_show_how_depthwise_dense_and_separable_treat_colour():
    rgb = demo.generated_image(24)
    depthwise, dense, separable = _baselines(rgb, *CHANNEL_STEPS)
    x = rgb.transpose(2, 0, 1)
    for c in range(3):  # depthwise: the same Sobel pair on each channel alone
        assert np.allclose(depthwise[2 * c], correlate2d(x[c], demo.SOBEL_X, mode="same"), atol=1e-5)
        assert np.allclose(depthwise[2 * c + 1], correlate2d(x[c], demo.SOBEL_Y, mode="same"), atol=1e-5)
    # dense: each output mixes the channels (luminance edges, blurred red minus green)
    assert np.allclose(dense[:2], np.tensordot(demo.LUMA, depthwise.reshape(3, 2, 24, 24), 1), atol=1e-5)
    blur = np.full((3, 3), 1 / 9)
    assert np.allclose(dense[2], correlate2d(x[0] - x[1], blur, mode="same"), atol=1e-5)
    # separable: the depthwise edges, then a pointwise red minus green
    assert np.allclose(separable, depthwise[0:2] - depthwise[2:4], atol=1e-5)

    edges, luma, opponent, chroma = demo.channel_panels(depthwise, dense, separable)
    assert [p.title.split(":")[0] for p in (edges, luma, opponent, chroma)] == [
        "depthwise",
        "dense",
        "dense",
        "separable",
    ]
    assert edges.data.shape == (24, 24, 3) and 0 <= edges.data.min() and edges.data.max() <= 1
    assert not np.allclose(edges.data[..., 0], edges.data[..., 1])  # colour edges: channels kept apart
    assert luma.data.shape == chroma.data.shape == (24, 24)
    assert not np.allclose(luma.data / luma.vmax, chroma.data / chroma.vmax)
    assert opponent.colorbar and opponent.vmin == -opponent.vmax


def test_every_taps_map_has_a_colour_bar_and_a_discrete_range_that_shows_the_checkerboard():
    crop = np.zeros((1, 1, 128, 128), np.float32)
    transpose = {
        "transpose k3 s2": (crop, transpose_overlap((3, 3), 2).counts),
        "transpose k4 s2": (crop, transpose_overlap((4, 4), 2).counts),
        "resize-conv": (crop, np.full((2, 2), 9)),
    }
    taps = [p for p in demo.overlap_panels(transpose) if "taps per pixel" in p.title]
    assert len(taps) == 3
    for p in taps:
        assert p.colorbar and p.levels == 10 and (p.vmin, p.vmax) == (-0.5, 9.5)
        assert p.data.dtype.kind == "i" and p.data.shape == (6, 6)  # 3x3 periods of the 2x2 stride
    k3, k4, resize = taps
    assert np.unique(k3.data).tolist() == [1, 2, 4] and "checkerboard" in k3.title
    assert np.unique(k4.data).tolist() == [4] and "uniform" in k4.title
    assert np.unique(resize.data).tolist() == [9] and "uniform" in resize.title


def test_draw_gallery_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    rgb = demo.generated_image(32)
    corr, conv = (a[0] for a in _baselines(rgb, "asymmetric 5x5 correlation", "asymmetric 5x5 convolution"))
    crop = np.zeros((1, 1, 128, 128), np.float32)
    panels = [demo.Panel("input", rgb)] + demo.flip_panels(corr, conv)
    panels += demo.overlap_panels({"k3": (crop, transpose_overlap((3, 3), 2).counts)})
    path = demo.draw_gallery(panels, str(tmp_path))
    assert path is not None and path.endswith("gallery.png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
