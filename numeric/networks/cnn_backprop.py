"""Hand-derived derivatives of the paper's CNN (numeric/networks/cnn.py): backprop and Pearlmutter's R-operator.

The network, for a minibatch of B images x_0 (B, H, W, C) and conv layers l = 1, 2, 3 (weights W_l of shape
(9 C_l, F_l), bias b_l), then the two dense layers of numeric/networks/backprop.py:

    P_l = patches(x_{l-1})          (B H W, 9 C): the zero-padded 3x3 patch of every pixel (im2col)
    a_l = P_l W_l + b_l             (B, H, W, F)
    x_l = pool(relu(a_l))           (B, H/2, W/2, F): 2x2 max, stride 2, floor (an odd last row/column dropped)
    z   = dense(flatten(x_3))       L = cross-entropy(z, Y)

pool o relu is piecewise linear: on each 2x2 window {a_1, .., a_4} with maximum m its derivative is the
window weights J_i = d x / d a_i (`relu_pool`), constant between kinks, so J is all the reverse and the
R pass need (the second derivative is 0 almost everywhere). At ties J follows Autograd's conventions for
the taped loss maxpool(maximum(0, a)): np.max splits its derivative evenly among the entries equal to the
maximum, and maximum(0, a) has slope 1/2 at a = 0 (`backprop.relu_slope`). On relu(a) every window entry
with a_i <= 0 equals 0, so:

    m > 0:  J_i = [a_i = m] / #{j: a_j = m}      (one or several equal maxima)
    m = 0:  J_i = [a_i = 0] / 8                  (all four relu values tie at 0; slope 1/2 where a_i = 0)
    m < 0:  J_i = 0

Backprop (for l = 3, 2, 1; the dense layers by backprop.backprop, which gives dL/dx_3):

    dL/da_l = J^T dL/dx_l (unpooling: every weight times its window's error, zero on dropped rows/columns),
    dL/dW_l = P_l^T dL/da_l,   dL/db_l = sum dL/da_l,
    dL/dx_{l-1} = patches^T(dL/da_l W_l^T) = patches(dL/da_l) flipped(W_l)

(the adjoint of a 'same' correlation is the correlation with the reversed kernel, channels swapped: `flipped`).
R-operator, for K tangents (U_l, c_l) of (W_l, b_l) at once along a leading axis (R x_0 = 0):

    R a_l = P_l U_l + patches(R x_{l-1}) W_l + c_l,             R x_l = J R a_l (pooling with the fixed weights),
    R(dL/da_l) = J^T R(dL/dx_l),
    R dW_l = P_l^T R(dL/da_l) + patches(R x_{l-1})^T dL/da_l,    R db_l = sum R(dL/da_l),
    R(dL/dx_{l-1}) = patches(R(dL/da_l)) flipped(W_l) + patches(dL/da_l) flipped(U_l),

with the dense layers' R pass (backprop.r_forward / r_backward) in between. Every product is one matrix product
or one batched product over the K tangents (the patches of all K R x's form one matrix times W_l). The forward
pass is the operations of cnn.logits (the same products of the same patch matrices), so the loss, the ReLU kinks
and the pooling ties agree with the taped loss to the last bit. Tested against Autograd's derivatives of the
taped loss (tests/test_cnn_backprop.py, tests/test_networks.py).
"""
from collections import namedtuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from shb.numeric.networks.backprop import (as_dtype, backprop, forward_pass, output_delta, r_backward, r_forward,
                                  softmax_cross_entropy, softmax_r_delta, views)

KERNEL, PAD = 3, 1
WINDOW = ((0, 0), (0, 1), (1, 0), (1, 1))  # the offsets (di, dj) of a 2x2 pooling window


# ---------------------------------------------------------------- patches (im2col) and their adjoint

def patches(x):
    """im2col: (M, H, W, C) -> (M H W, 9 C), the zero-padded 3x3 patch around every pixel, index (3 di + dj) C + c.

    One copy of a strided view of the padded images (no Python loop over the nine offsets).
    """
    m, h, w, c = x.shape
    padded = np.zeros((m, h + 2 * PAD, w + 2 * PAD, c), x.dtype)
    padded[:, PAD:PAD + h, PAD:PAD + w] = x
    s = padded.strides
    window = as_strided(padded, (m, h, w, KERNEL, KERNEL, c), (s[0], s[1], s[2], s[1], s[2], s[3]), writeable=False)
    return np.ascontiguousarray(window).reshape(m * h * w, KERNEL * KERNEL * c)


def _shift(n, d):
    """For the patch offset d - PAD along an axis of length n: (pixels receiving, patch rows sending)."""
    s = d - PAD
    return slice(max(0, s), n + min(0, s)), slice(max(0, -s), n - max(0, s))


def unpatch(cols, shape):
    """col2im, the adjoint of `patches`: (M H W, 9 C) -> (M, H, W, C), each patch entry added onto its pixel."""
    m, h, w, c = shape
    cols = cols.reshape(m, h, w, KERNEL, KERNEL, c)
    out = cols[:, :, :, PAD, PAD, :].copy()  # the centre tap covers every pixel
    for di in range(KERNEL):
        for dj in range(KERNEL):
            if (di, dj) != (PAD, PAD):
                (ti, si), (tj, sj) = _shift(h, di), _shift(w, dj)
                out[:, ti, tj] += cols[:, si, sj, di, dj]
    return out


def flipped(W):
    """The kernel of the adjoint convolution: W (..., 9 C, F) -> (..., 9 F, C), the 3x3 offsets reversed, so that
    unpatch(d W^T) = patches(d) flipped(W) for d (B, H, W, F) (with 'same' padding the adjoint of a correlation is
    the correlation with the reversed kernel, input and output channels swapped)."""
    *lead, n_in, f = W.shape
    kernel = W.reshape(tuple(lead) + (KERNEL, KERNEL, n_in // (KERNEL * KERNEL), f))[..., ::-1, ::-1, :, :]
    return np.swapaxes(kernel, -1, -2).reshape(tuple(lead) + (KERNEL * KERNEL * f, n_in // (KERNEL * KERNEL)))


# ---------------------------------------------------------------- ReLU and max-pooling, and their window weights

def _corners(x):
    """The four strided views x[..., di::2, dj::2, :] of the pooled region (floor: an odd last row/column dropped)."""
    h2, w2 = x.shape[-3] // 2, x.shape[-2] // 2
    return [x[..., di:2 * h2:2, dj:2 * w2:2, :] for di, dj in WINDOW]


WINDOW_WEIGHT = (0.0, 1.0, 1 / 2, 1 / 3, 1 / 4, 1 / 8)  # by code: 0 (m < 0), #ties (m > 0), 5 (m = 0)


def relu_pool(a):
    """(maxpool(relu(a)), J) for a (B, H, W, F): J (4, B, H/2, W/2, F) the window weights d x / d a_i (module doc).

    maxpool(relu(a)) = relu(maxpool(a)); each window's weight 1/#ties, 1/8 or 0 is looked up by a small code.
    """
    corners = _corners(a)
    m = np.maximum(np.maximum(corners[0], corners[1]), np.maximum(corners[2], corners[3]))
    ties = [corner == m for corner in corners]
    code = np.add(ties[0], ties[1], dtype=np.uint8)
    code += ties[2]
    code += ties[3]
    code[m == 0] = 5
    code[m < 0] = 0
    weight = np.array(WINDOW_WEIGHT, a.dtype).take(code)
    J = np.empty((4,) + m.shape, a.dtype)
    for i, tie in enumerate(ties):
        np.multiply(tie, weight, out=J[i])
    return np.maximum(m, 0.0, out=m), J


def pool_tangent(r_a, J):
    """R x = J R a: each window's weighted sum of the tangent (r_a (..., B, H, W, F) -> (..., B, H/2, W/2, F))."""
    corners = _corners(r_a)
    out = corners[0] * J[0]
    for corner, weight in zip(corners[1:], J[1:]):
        out += corner * weight
    return out


def unpool(delta, J, shape):
    """J^T delta: (..., B, H/2, W/2, F) -> (..., B, H, W, F) of `shape`, every weight times its window's error."""
    out = np.empty(delta.shape[:-4] + tuple(shape), delta.dtype)
    h2, w2 = delta.shape[-3], delta.shape[-2]
    for corner, weight in zip(_corners(out), J):
        np.multiply(delta, weight, out=corner)
    out[..., 2 * h2:, :, :] = 0.0  # rows and columns that pooling dropped
    out[..., :, 2 * w2:, :] = 0.0
    return out


# ---------------------------------------------------------------- the passes

Layer = namedtuple("Layer", ["cols", "in_shape", "a_shape", "J", "r_cols"])  # r_cols: patches of R x, or None


def conv_forward(params, x, tparams=None, keep=True):
    """The conv layers' forward pass from images x: ([Layer] if `keep` else [], x_3, R x_3), with the R pass when
    `tparams` (views of the K tangents) are given (else R x_3 is None). The primal operations are the same either
    way."""
    layers, r_x = [], None
    for l, (W, b) in enumerate(params):
        cols = patches(x)
        a = cols @ W
        a += b
        a = a.reshape(x.shape[:3] + (W.shape[1],))
        r_cols = None
        if tparams is not None:
            (U, c), (k, f) = tparams[l], (len(tparams[l][1]), W.shape[1])
            r_a = np.matmul(cols, U)                                                # P U_k, (K, B H W, F)
            if r_x is not None:                                                     # (R x_0 = 0)
                r_cols = patches(r_x.reshape((-1,) + r_x.shape[2:]))                 # all K at once
                r_a += (r_cols @ W).reshape(k, -1, f)
            r_a += c[:, None, :]
        pooled, J = relu_pool(a)
        if keep:
            layers.append(Layer(cols, x.shape, a.shape, J, r_cols))
        if tparams is not None:
            r_x = pool_tangent(r_a.reshape((k,) + a.shape), J)
        x = pooled
    return layers, x, r_x


def conv_backward(params, layers, delta_x, grads):
    """The conv layers' reverse pass from dL/dx_3, writing into grads = views(g); returns [(dL/da_l as (B H W, F),
    its patches or None for the first layer)] for the R pass."""
    deltas = [None] * len(params)
    for l in range(len(params) - 1, -1, -1):
        layer = layers[l]
        delta = unpool(delta_x, layer.J, layer.a_shape).reshape(-1, layer.a_shape[-1])
        gW, gb = grads[l]
        np.matmul(layer.cols.T, delta, out=gW)
        np.sum(delta, axis=0, out=gb)
        delta_patches = None
        if l:
            delta_patches = patches(delta.reshape(layer.a_shape))
            delta_x = (delta_patches @ flipped(params[l][0])).reshape(layer.in_shape)
        deltas[l] = (delta, delta_patches)
    return deltas


def conv_r_backward(params, tparams, layers, deltas, r_delta_x, hgrads):
    """The conv layers' R reverse pass from R(dL/dx_3) (K, B, h, w, F), writing into hgrads = views(H U)."""
    for l in range(len(params) - 1, -1, -1):
        layer, (W, _), (U, _), (delta, delta_patches) = layers[l], params[l], tparams[l], deltas[l]
        k, (n_in, f), c = len(U), W.shape, layer.in_shape[-1]
        r_delta = unpool(r_delta_x, layer.J, layer.a_shape).reshape(k, -1, f)
        hW, hb = hgrads[l]
        np.matmul(layer.cols.T, r_delta, out=hW)
        np.sum(r_delta, axis=1, out=hb)
        if l:
            hW += layer.r_cols.reshape(k, -1, n_in).transpose(0, 2, 1) @ delta
            r_patches = patches(r_delta.reshape((-1,) + layer.a_shape[1:]))            # all K at once
            r_delta_x = np.matmul(delta_patches, flipped(U))                            # (K, B H W, C)
            r_delta_x += (r_patches @ flipped(W)).reshape(k, -1, c)
            r_delta_x = r_delta_x.reshape((k,) + layer.in_shape)


def forward(theta, X, layout, tangents=None, keep=True):
    """The whole forward pass (the operations of cnn.logits), with the R pass for `tangents` (K, n) if given:
    (conv layers (none unless `keep`), dense views, hs, slopes, z, R x_3 flattened (K, B, D) or None)."""
    tparams = None if tangents is None else views(tangents, layout.convs)
    layers, x, r_x = conv_forward(views(theta, layout.convs), X.reshape((len(X),) + layout.input_shape), tparams,
                                  keep)
    dense = views(theta, layout.dense)
    hs, slopes, z = forward_pass(dense, x.reshape(len(X), -1), slopes=keep)
    return layers, dense, hs, slopes, z, (None if r_x is None else r_x.reshape(len(r_x), len(X), -1))


def logits(theta, X, layout):
    """z, in theta's dtype (plain numpy; nothing kept for a reverse pass)."""
    return forward(theta, np.asarray(X, dtype=theta.dtype), layout, keep=False)[4]


def loss_value(theta, X, Y, layout):
    """L(theta), in theta's dtype."""
    X, Y = as_dtype(theta, X, Y)
    return softmax_cross_entropy(forward(theta, X, layout, keep=False)[4], Y)[0]


def backward(theta, layout, layers, dense, hs, slopes, p, Y, g):
    """Backprop through the dense and the conv layers, writing g; returns (dense errors, conv errors)."""
    dense_deltas = backprop(dense, hs, slopes, output_delta(p, Y), views(g, layout.dense))
    delta_x = (dense_deltas[0] @ dense[0][0].T).reshape(layers[-1].J.shape[1:])
    return dense_deltas, conv_backward(views(theta, layout.convs), layers, delta_x, views(g, layout.convs))


def loss_and_grad(theta, X, Y, layout):
    """(L, dL/dtheta) by backprop, in theta's dtype (Y one-hot)."""
    X, Y = as_dtype(theta, X, Y)
    layers, dense, hs, slopes, z, _ = forward(theta, X, layout)
    value, p = softmax_cross_entropy(z, Y)
    g = np.empty_like(theta)
    backward(theta, layout, layers, dense, hs, slopes, p, Y, g)
    return value, g


def grad_and_hvps(theta, tangents, X, Y, layout):
    """(g, H U): g = dL/dtheta (as `loss_and_grad`, to the last bit) and H u_k for each row u_k of `tangents`
    (K, n), by the R-operator of the module doc, in theta's dtype (Y one-hot)."""
    X, Y = as_dtype(theta, X, Y)
    layers, dense, hs, slopes, z, r_x = forward(theta, X, layout, tangents)
    _, p = softmax_cross_entropy(z, Y)
    tdense = views(tangents, layout.dense)
    r_hs, r_z = r_forward(dense, tdense, hs, slopes, r_x)
    r_delta = softmax_r_delta(p, r_z)
    g, hvps = np.empty_like(theta), np.empty_like(tangents)
    dense_deltas, conv_deltas = backward(theta, layout, layers, dense, hs, slopes, p, Y, g)
    r_delta_x = r_backward(dense, tdense, hs, slopes, dense_deltas, r_hs, r_delta, views(hvps, layout.dense))
    conv_r_backward(views(theta, layout.convs), views(tangents, layout.convs), layers, conv_deltas,
                    r_delta_x.reshape((len(tangents),) + layers[-1].J.shape[1:]), views(hvps, layout.convs))
    return g, hvps
