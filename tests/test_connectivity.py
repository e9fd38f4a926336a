"""The synaptic matrices built from index arrays compute exactly what the ANN layers compute."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroconv import ann
from neuroconv.conversion.connectivity import affine_chain
from neuroconv.simulation.brian2.build import replicate_indices
from nets import conv_nets, random_inputs


@settings(max_examples=60, deadline=None)
@given(conv_nets())
def test_chain_matrix_equals_forward(net_rng):
    net, rng = net_rng
    x = random_inputs(net, rng, 3)
    # the whole network without ReLUs is one affine chain
    linear = [l for l in net.layers if not isinstance(l, ann.ReLU)]
    lin_net = ann.Sequential(linear, input_shape=net.input_shape)
    matrix, bias = affine_chain(linear, (net.input_shape,) + lin_net.shapes)
    got = x.reshape(3, -1) @ matrix.T.toarray() + bias
    np.testing.assert_allclose(got, lin_net.forward(x), rtol=1e-10, atol=1e-10)


@given(st.integers(1, 5), st.integers(0, 3))
def test_conv_synapse_count_from_geometry(out_c, padding):
    w = np.ones((out_c, 2, 3, 3))
    conv = ann.Conv2d(w, padding=padding)
    out_shape = conv.output_shape((2, 5, 5))
    matrix, _ = affine_chain([conv], ((2, 5, 5), out_shape))
    # count the in-range kernel taps per output position directly
    ho, wo = out_shape[1:]
    taps = sum(1 for y in range(ho) for x in range(wo) for i in range(3) for j in range(3)
               if 0 <= y - padding + i < 5 and 0 <= x - padding + j < 5)
    assert matrix.nnz == out_c * 2 * taps


def test_replicated_copies_are_block_diagonal(rng):
    from scipy.sparse import csr_matrix

    m = csr_matrix(rng.normal(size=(3, 4)) * (rng.uniform(size=(3, 4)) > 0.4))
    i, j, w = replicate_indices(m, 3)
    assert len(i) == 3 * m.nnz
    big = csr_matrix((w, (j, i)), shape=(9, 12)).toarray()
    for c in range(3):
        np.testing.assert_array_equal(big[3 * c:3 * c + 3, 4 * c:4 * c + 4], m.toarray())
    big[0:3, 0:4] = big[3:6, 4:8] = big[6:9, 8:12] = 0
    assert not big.any()
