"""The pure-Python analysis helpers, against values derived by hand and brute-force counts."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numbaconv

# ---- receptive_field ----


@pytest.mark.parametrize("depth,size", [(1, 3), (2, 5), (3, 7), (5, 11)])
def test_vgg_stack_of_3x3_convs_grows_by_2_per_layer(depth, size):
    rf = numbaconv.receptive_field([dict(kernel_size=3, padding=1)] * depth)
    assert (rf.size, rf.jump, rf.start) == (size, 1, 0)
    assert [r.size for r in rf] == [3 + 2 * i for i in range(depth)]


def test_resnet_stem():
    # conv 7x7/2 pad 3: size 7, jump 2, first window [-3, 3] centred on 0.
    # maxpool 3x3/2 pad 1: size 7 + 2 * 2 = 11, jump 4, first window centred on output 0 of the conv -> 0.
    rf = numbaconv.receptive_field(
        [
            dict(kernel_size=7, stride=2, padding=3, name="conv1"),
            dict(kernel_size=3, stride=2, padding=1, kind="pool", name="maxpool"),
        ]
    )
    assert [(r.name, r.size, r.jump, r.start) for r in rf] == [("conv1", 7, 2, 0), ("maxpool", 11, 4, 0)]
    # ResNet-50 layer1 starts with a 1x1 then a 3x3 at jump 4: 11 + 2 * 4 = 19.
    assert numbaconv.receptive_field(list(rf_layers_resnet())).size == 19


def rf_layers_resnet():
    yield (7, 2, 3)
    yield dict(kernel_size=3, stride=2, padding=1, kind="pool")
    yield (1,)
    yield (3, 1, 1)


def test_alexnet_and_valid_convs():
    # conv1 11/4 pad 2: size 11, jump 4, start (11 - 1) / 2 - 2 = 3.
    # pool 3/2: size 11 + 2 * 4 = 19, jump 8, start 3 + 1 * 4 = 7.  conv2 5 pad 2: size 19 + 4 * 8 = 51.
    rf = numbaconv.receptive_field([(11, 4, 2), dict(kernel_size=3, stride=2, kind="pool"), (5, 1, 2)])
    assert [(r.size, r.jump, r.start) for r in rf] == [(11, 4, 3), (19, 8, 7), (51, 8, 7)]
    # Unpadded 3x3 convs: the first output sits on pixel 1, then on pixel 2.
    assert [r.start for r in numbaconv.receptive_field([(3,), (3,)])] == [1, 2]


def test_dilated_context_module_and_pool_default_stride():
    # Yu & Koltun: 3x3 convs with dilation 1, 2, 4 give 3, 7, 15.
    rf = numbaconv.receptive_field([dict(kernel_size=3, dilation=d, padding=d) for d in (1, 2, 4)])
    assert [r.size for r in rf] == [3, 7, 15] and rf.start == 0
    # A 2x2 pool strides by its kernel: covers pixels 0 and 1, centre 0.5.
    pool = numbaconv.receptive_field([dict(kernel_size=2, kind="pool")])
    assert (pool.size, pool.jump, pool.start, pool[0].name) == (2, 2, 0.5, "pool0")


def test_padding_forms_and_per_dim_tuples():
    # Even kernel, stride 1: "same" puts the extra pixel at the end, "same_lower" at the start.
    assert numbaconv.receptive_field([dict(kernel_size=2, padding="same")]).start == 0.5
    assert numbaconv.receptive_field([dict(kernel_size=2, padding="same_lower")]).start == -0.5
    assert numbaconv.receptive_field([dict(kernel_size=3, padding="full")]).start == -1
    assert numbaconv.receptive_field([dict(kernel_size=3, padding=((2, 0),))]).start == -1
    rf = numbaconv.receptive_field([dict(kernel_size=(3, 5), stride=(1, 2), padding=((1, 1), (0, 2))), (3, 2, (1, 0))])
    # dim 0: sizes 3 then 3 + 2 = 5, jumps 1 then 2, starts 0 then 0.
    # dim 1: size 5, jump 2, start 2; then 5 + 2 * 2 = 9, jump 4, start 2 + 1 * 2 = 4.
    assert (rf[0].size, rf[0].jump, rf[0].start) == ((3, 5), (1, 2), (0, 2))
    assert (rf.size, rf.jump, rf.start) == ((5, 9), (2, 4), (0, 4))


def test_receptive_field_prints_as_a_table():
    rf = numbaconv.receptive_field(
        [
            dict(kernel_size=7, stride=2, padding=3, name="conv1"),
            dict(kernel_size=(3, 2), stride=2, padding=(1, 0), kind="pool", name="pool"),
        ]
    )
    lines = str(rf).splitlines()
    assert repr(rf) == str(rf)
    assert lines[0].split() == ["layer", "kernel", "stride", "dilation", "padding", "size", "jump", "start"]
    assert set(lines[1]) == {"-"} and len(lines) == 4
    assert lines[2].split() == ["conv1", "7x7", "2x2", "1x1", "(3,3)x(3,3)", "7x7", "2x2", "0x0"]
    # pool dim 1: kernel 2, pad 0: size 7 + 1 * 2 = 9, start 0 + 0.5 * 2 = 1.
    assert lines[3].split() == ["pool", "3x2", "2x2", "1x1", "(1,1)x(0,0)", "11x9", "4x4", "0x1"]
    one_d = str(numbaconv.receptive_field([(3, 2, 1)])).splitlines()
    assert one_d[2].split() == ["conv0", "3", "2", "1", "(1,1)", "3", "2", "0"]


@pytest.mark.parametrize(
    "layers,exc,match",
    [
        ("conv", TypeError, r"receptive_field: layers must be a sequence of dicts or tuples, got str"),
        (5, TypeError, r"receptive_field: layers must be a sequence"),
        ([], ValueError, r"receptive_field: layers is empty"),
        ([dict(kernel=3)], ValueError, r"receptive_field: layers\[0\] has unknown keys \['kernel'\]; allowed: "),
        ([(3,), dict(stride=2)], ValueError, r"receptive_field: layers\[1\] must give kernel_size"),
        ([dict(kernel_size=3, kind="fc")], ValueError, r"receptive_field: layers\[0\] kind='fc' must be 'conv' or"),
        ([(3, 1, 1, 1, 1)], TypeError, r"receptive_field: layers\[0\]=\(3, 1, 1, 1, 1\) must be a dict"),
        ([3], TypeError, r"receptive_field: layers\[0\]=3 must be a dict"),
        ([(0,)], ValueError, r"receptive_field: layers\[0\]: kernel_size=0 must be positive"),
        ([(3, 0)], ValueError, r"receptive_field: layers\[0\]: stride=0 must be positive"),
        ([(3,), (3, 1, -1)], ValueError, r"receptive_field: layers\[1\]: padding=-1 must be >= 0"),
        ([dict(kernel_size=3, dilation=0)], ValueError, r"receptive_field: layers\[0\]: dilation=0 must be positive"),
        (
            [dict(kernel_size=(3, 3)), dict(kernel_size=(3, 3, 3))],
            ValueError,
            r"receptive_field: layers\[0\]: kernel_size=\(3, 3\) must be an int or a sequence of 3 ints",
        ),
        (
            [dict(kernel_size=3, stride=2, padding="same")],
            ValueError,
            r"receptive_field: layers\[0\]: padding='same' with stride=\(2,\) depends on the input size",
        ),
        ([dict(kernel_size=3, padding="half")], ValueError, r"receptive_field: layers\[0\]: padding='half' is not"),
    ],
)
def test_receptive_field_errors(layers, exc, match):
    with pytest.raises(exc, match=match):
        numbaconv.receptive_field(layers)


# ---- conv_cost ----


def test_conv_cost_dense_layer_by_hand():
    c = numbaconv.conv_cost(32, 64, 3, 16)
    assert c.params == 64 * 32 * 9 + 64 == 18496
    assert c.macs == 16 * 16 * 64 * 32 * 9
    assert c.separable_params == 32 * 9 + 32 + 32 * 64 + 64 == 2432
    assert c.separable_macs == 16 * 16 * (32 * 9 + 32 * 64)
    assert c.params_ratio == pytest.approx(2432 / 18496)
    assert c.macs_ratio == pytest.approx(1 / 64 + 1 / 9)  # MobileNet's 1 / N + 1 / D_K^2


def test_conv_cost_groups_no_bias_batch_and_other_dims():
    c = numbaconv.conv_cost(32, 64, (3, 5), (10, 12), groups=4, bias=False, batch=3)
    assert c.params == 64 * 8 * 15
    assert c.macs == 3 * 120 * 64 * 8 * 15
    assert c.separable_params == 32 * 15 + 32 * 64
    assert c.separable_macs == 3 * 120 * (32 * 15 + 32 * 64)
    one_d = numbaconv.conv_cost(8, 8, (5,), 100, bias=False)
    assert (one_d.params, one_d.macs) == (8 * 8 * 5, 100 * 8 * 8 * 5)
    three_d = numbaconv.conv_cost(4, 6, 3, (4, 5, 6), bias=False)
    assert three_d.macs == math.prod((4, 5, 6)) * 6 * 4 * 27
    assert three_d.separable_params == 4 * 27 + 4 * 6


@pytest.mark.parametrize(
    "args,kw,exc,match",
    [
        ((0, 8, 3, 4), {}, ValueError, r"conv_cost: in_channels=0 must be a positive integer"),
        ((8, 2.0, 3, 4), {}, ValueError, r"conv_cost: out_channels=2.0 must be a positive integer"),
        ((8, 8, 3, 4), dict(groups=3), ValueError, r"conv_cost: groups=3 must divide in_channels=8 and out_channels=8"),
        ((8, 8, 3, 4), dict(batch=0), ValueError, r"conv_cost: batch=0 must be a positive integer"),
        ((8, 8, 3, 4), dict(bias=1), TypeError, r"conv_cost: bias=1 must be True or False"),
        ((8, 8, 0, 4), {}, ValueError, r"conv_cost: kernel_size=0 must be positive"),
        (
            (8, 8, (3, 3), (4, 4, 4)),
            {},
            ValueError,
            r"conv_cost: out_spatial=\(4, 4, 4\) must be an int or a "
            r"sequence of 2 ints",
        ),
        ((8, 8, 3, (4, 0)), {}, ValueError, r"conv_cost: out_spatial=\(4, 0\) must be positive"),
    ],
)
def test_conv_cost_errors(args, kw, exc, match):
    with pytest.raises(exc, match=match):
        numbaconv.conv_cost(*args, **kw)


# ---- transpose_overlap ----


def scatter_counts_1d(kernel, stride, dilation):
    """Scatter ones through a transposed conv of all-ones input and kernel; read one steady-state period."""
    n_in = dilation * kernel + 3
    y = np.zeros((n_in - 1) * stride + dilation * (kernel - 1) + 1, np.int64)
    for i in range(n_in):
        for t in range(kernel):
            y[i * stride + t * dilation] += 1
    first = -(-dilation * (kernel - 1) // stride) * stride  # a multiple of stride past the left border
    return y[first : first + stride]


@given(st.integers(1, 7), st.integers(1, 5), st.integers(1, 3))
def test_transpose_overlap_matches_a_brute_force_scatter(kernel, stride, dilation):
    got = numbaconv.transpose_overlap(kernel, stride, dilation)
    want = scatter_counts_1d(kernel, stride, dilation)
    np.testing.assert_array_equal(got.counts, want)
    assert got.uniform == (len(set(want.tolist())) == 1)
    assert got.divisible == (kernel % stride == 0)
    assert want.sum() == kernel  # every tap lands once per period


def test_transpose_overlap_2d_scatter_and_known_cases():
    kernel, stride, dilation = (3, 4), (2, 2), (1, 1)
    y = np.zeros((20, 20), np.int64)
    for iy in range(6):
        for ix in range(6):
            y[iy * 2 : iy * 2 + 3, ix * 2 : ix * 2 + 4] += 1
    got = numbaconv.transpose_overlap(kernel, stride, dilation)
    np.testing.assert_array_equal(got.counts, y[4:6, 4:6])
    np.testing.assert_array_equal(got.counts, [[4, 4], [2, 2]])
    assert not got.uniform and not got.divisible
    np.testing.assert_array_equal(numbaconv.transpose_overlap(3, 2).counts, [2, 1])
    assert numbaconv.transpose_overlap(4, 2).uniform and numbaconv.transpose_overlap(4, 2).divisible
    # Dilation 2, stride 2: every tap lands on even outputs, odd ones get nothing, though 2 % 2 == 0.
    holes = numbaconv.transpose_overlap(2, 2, 2)
    np.testing.assert_array_equal(holes.counts, [2, 0])
    assert holes.divisible and not holes.uniform
    assert numbaconv.transpose_overlap((2, 2, 2), 1).counts.shape == (1, 1, 1)


@pytest.mark.parametrize(
    "args,exc,match",
    [
        ((3, 0), ValueError, r"transpose_overlap: stride=0 must be positive"),
        ((0, 2), ValueError, r"transpose_overlap: kernel_size=0 must be positive"),
        ((3, 2, 0), ValueError, r"transpose_overlap: dilation=0 must be positive"),
        (((3, 3), (2, 2, 2)), ValueError, r"transpose_overlap: stride=\(2, 2, 2\) must be an int or a sequence of 2"),
        ((3.0, 2), TypeError, r"transpose_overlap: kernel_size=3.0 must be an int"),
    ],
)
def test_transpose_overlap_errors(args, exc, match):
    with pytest.raises(exc, match=match):
        numbaconv.transpose_overlap(*args)


# ---- dead_channels ----


def test_dead_channels_layouts_tolerance_nan_and_ints():
    a = np.zeros((3, 5, 4, 4), np.float32)
    a[:, 1] = 2.0
    a[2, 3, 3, 3] = -0.25  # one small negative value keeps channel 3 alive at tol 0
    a[0, 4, 0, 0] = np.nan
    np.testing.assert_array_equal(numbaconv.dead_channels(a), [0, 2])
    np.testing.assert_array_equal(numbaconv.dead_channels(a, 0.25), [0, 2, 3])
    nhwc = np.ascontiguousarray(np.moveaxis(a, 1, -1))
    np.testing.assert_array_equal(numbaconv.dead_channels(nhwc, layout="NHWC"), [0, 2])
    np.testing.assert_array_equal(numbaconv.dead_channels(a[:, :, 0, 0], layout="NC"), [0, 2, 3])
    np.testing.assert_array_equal(numbaconv.dead_channels(np.array([[0, -128, 0]], np.int8)), [0, 2])
    assert numbaconv.dead_channels(np.ones((2, 0, 3))).dtype == np.int64


@pytest.mark.parametrize(
    "args,kw,exc,match",
    [
        (([[0.0]],), {}, TypeError, r"dead_channels: activations must be a NumPy array"),
        ((np.zeros((2, 2), complex),), {}, TypeError, r"dead_channels: activations dtype complex128 is not supported"),
        ((np.zeros((2, 2)), -1.0), {}, ValueError, r"dead_channels: tol=-1.0 must be a non-negative real number"),
        ((np.zeros((2, 2)), float("nan")), {}, ValueError, r"dead_channels: tol=nan must be a non-negative"),
        ((np.zeros((2, 2)), "0"), {}, ValueError, r"dead_channels: tol='0' must be a non-negative"),
        ((np.zeros(4),), {}, ValueError, r"dead_channels: activations must be at least 2-d"),
        ((np.zeros((0, 3, 4)),), {}, ValueError, r"dead_channels: activations shape \(0, 3, 4\) has no samples"),
        (
            (np.zeros((2, 3, 4)),),
            dict(layout="NHWC"),
            ValueError,
            r"dead_channels: layout='NHWC' must be 'NCW' or 'NWC' for 1-d input",
        ),
    ],
)
def test_dead_channels_errors(args, kw, exc, match):
    with pytest.raises(exc, match=match):
        numbaconv.dead_channels(*args, **kw)
