import numpy as np
import pytest

from neuroconv import NeuroconvError, ann


def conv_loops(x, w, b, stride, padding):
    """Direct, loop-based cross-correlation: an independent check of Conv2d.forward."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    n, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    ho, wo = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, o, ho, wo))
    for y in range(ho):
        for z in range(wo):
            patch = x[:, :, y * stride:y * stride + kh, z * stride:z * stride + kw]
            out[:, :, y, z] = np.einsum("ncij,ocij->no", patch, w) + b
    return out


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (1, 2)])
def test_conv_forward_matches_loops(rng, stride, padding):
    w, b = rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)
    x = rng.normal(size=(4, 2, 7, 6))
    layer = ann.Conv2d(w, b, stride=stride, padding=padding)
    out = layer.forward(x)
    assert out.shape[1:] == layer.output_shape(x.shape[1:])
    np.testing.assert_allclose(out, conv_loops(x, w, b, stride, padding), atol=1e-12)


def test_avgpool_and_flatten(rng):
    x = rng.normal(size=(2, 3, 4, 6))
    out = ann.AvgPool2d(2).forward(x)
    np.testing.assert_allclose(out, x.reshape(2, 3, 2, 2, 3, 2).mean(axis=(3, 5)))
    assert ann.Flatten().forward(out).shape == (2, 18)


def test_sequential_shapes_and_forward(rng):
    net = ann.Sequential([ann.Conv2d(rng.normal(size=(4, 1, 3, 3)), padding=1), ann.ReLU(), ann.AvgPool2d(2),
                          ann.Flatten(), ann.Dense(rng.normal(size=(5, 64)), rng.normal(size=5))], input_shape=(1, 8, 8))
    assert net.shapes == ((4, 8, 8), (4, 8, 8), (4, 4, 4), (64,), (5,))
    x = rng.uniform(size=(3, 1, 8, 8))
    out, acts = net.forward(x, return_activations=True)
    assert out.shape == (3, 5) and len(acts) == 5
    np.testing.assert_allclose(acts[1], np.maximum(acts[0], 0))
    # flat inputs are accepted and reshaped
    np.testing.assert_allclose(net.forward(x.reshape(3, -1)), out)


def test_shapes_that_do_not_chain_name_the_layer(rng):
    with pytest.raises(NeuroconvError, match=r"layer 2 \(Dense\).*expects input shape \(7,\)"):
        ann.Sequential([ann.Dense(rng.normal(size=(5, 4))), ann.ReLU(), ann.Dense(rng.normal(size=(3, 7)))],
                       input_shape=(4,))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_weights_rejected(bad):
    w = np.ones((3, 2))
    w[1, 1] = bad
    with pytest.raises(NeuroconvError, match="Dense.weight contains 1 NaN/inf"):
        ann.Dense(w)
    with pytest.raises(NeuroconvError, match="Conv2d.bias contains"):
        ann.Conv2d(np.ones((2, 1, 1, 1)), np.array([0.0, bad]))


def test_unknown_layer_type_rejected():
    with pytest.raises(NeuroconvError, match="layer 0 is a str"):
        ann.Sequential(["relu"], input_shape=(3,))


def test_sklearn_import_matches_predictions(digits):
    from sklearn.neural_network import MLPClassifier

    x_train, x_test, y_train, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=50, random_state=0).fit(x_train[:300], y_train[:300])
    net = ann.from_sklearn(clf)
    np.testing.assert_array_equal(net.predict(x_test), clf.predict(x_test))
    with pytest.raises(NeuroconvError, match="expects a fitted MLPClassifier"):
        ann.from_sklearn(MLPClassifier())


def test_npz_round_trip(tmp_path, rng):
    net = ann.Sequential([ann.Conv2d(rng.normal(size=(2, 1, 3, 3)), rng.normal(size=2), stride=2, padding=1),
                          ann.ReLU(), ann.AvgPool2d(2), ann.Flatten(), ann.Dense(rng.normal(size=(3, 8)))],
                         input_shape=(1, 8, 8))
    ann.save_npz(net, tmp_path / "m.npz")
    back = ann.from_npz(tmp_path / "m.npz")
    assert back.shapes == net.shapes
    x = rng.uniform(size=(2, 1, 8, 8))
    np.testing.assert_array_equal(back.forward(x), net.forward(x))


def test_plain_npz_mlp_and_no_pickle(tmp_path, rng):
    np.savez(tmp_path / "plain.npz", W0=rng.normal(size=(4, 3)), b0=np.zeros(4), W1=rng.normal(size=(2, 4)))
    net = ann.from_npz(tmp_path / "plain.npz")
    assert [type(l).__name__ for l in net.layers] == ["Dense", "ReLU", "Dense"]
    np.savez(tmp_path / "evil.npz", W0=np.array([object()], dtype=object))
    with pytest.raises(NeuroconvError, match="never loads pickles"):
        ann.from_npz(tmp_path / "evil.npz")
    with pytest.raises(NeuroconvError, match="does not exist"):
        ann.from_npz(tmp_path / "missing.npz")
