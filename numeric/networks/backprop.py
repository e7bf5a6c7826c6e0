"""Hand-derived derivatives of the MLP loss (numeric/networks/mlp.py): backprop and Pearlmutter's R-operator.

For the ReLU MLP with softmax cross-entropy over a minibatch, `loss_and_grad` is one forward pass
and the reverse pass (backprop); `grad_and_hvps` adds the R-operator R{f} = d/dr f(theta + r u) to
both passes, giving the gradient and K Hessian-vector products at once, the K tangents batched into
the same matrix products. Plain numpy over a flat parameter vector: each layer's (W_l, b_l) and its
gradient are views of one vector at fixed offsets (`views`), so nothing is flattened or embedded per
step. Tested against Autograd's taped derivatives of `numeric.networks.mlp.loss_taped` (tests/test_mlp.py and
tests/test_networks.py).
"""
import numpy as np


def views(flat, layout):
    """[(W_l, b_l), ...] as views of flat[..., :] at the `layout` offsets: W_l (..., n_in, n_out), b_l (..., n_out).

    Plain numpy slicing (no copy, no Autograd primitive); a (K, n) array of K tangents gives (K, n_in, n_out) blocks.
    """
    lead = flat.shape[:-1]
    return [(flat[..., l.w_start:l.w_stop].reshape(lead + l.w_shape), flat[..., l.b_start:l.b_stop]) for l in layout]


def relu_slope(a):
    """sigma'(a) for sigma(a) = max(0, a): 1 where a > 0, 0 where a < 0 and 1/2 at a tie a = 0.

    The 1/2 is Autograd's convention for np.maximum (`balanced_eq` splits the derivative evenly between equal
    arguments), so hand-derived and taped derivatives agree at the kink too, e.g. for a unit whose inputs
    are all zero while its bias is still at its initial 0.
    """
    slope = (a > 0).astype(a.dtype)
    if not a.all():
        slope[a == 0] = 0.5
    return slope


def forward_pass(params, X, slopes=True):
    """h_0 = X, a_l = h_{l-1} W_l + b_l, h_l = max(0, a_l) for l < L, logits z = a_L.

    Returns (hs, slopes, z): the layer inputs [h_0, ..., h_{L-1}] and, if asked for, [sigma'(a_1), ...,
    sigma'(a_{L-1})]. The operations of `mlp.logits`, so z agrees with it to the last bit.
    """
    hs, sigma_primes = [X], []
    for W, b in params[:-1]:
        a = hs[-1] @ W
        a += b
        if slopes:
            sigma_primes.append(relu_slope(a))
        hs.append(np.maximum(a, 0.0, out=a))
    W, b = params[-1]
    z = hs[-1] @ W
    z += b
    return hs, sigma_primes, z


def softmax_cross_entropy(z, Y):
    """(L, p): L = -(1/B) sum_ic Y_ic log p_ic with p = softmax(z) row-wise, via the stable log-sum-exp.

    The operations of `net.cross_entropy`, so L agrees with it to the last bit.
    """
    z_max = np.max(z, axis=1, keepdims=True)
    e = np.exp(z - z_max)
    s = np.sum(e, axis=1, keepdims=True)
    value = -np.sum(Y * (z - (np.log(s) + z_max))) / z.shape[0]
    return value, e / s


def output_delta(p, Y):
    """delta_L = dL/dz = (p - Y) / B for one-hot Y (rows summing to 1)."""
    delta = p - Y
    delta /= p.shape[0]
    return delta


def backprop(params, hs, slopes, delta, grads):
    """The reverse pass from delta_L, writing into grads = views(g): for l = L, ..., 1

        dL/dW_l = h_{l-1}^T delta_l,   dL/db_l = sum_i delta_l,i,   delta_{l-1} = (delta_l W_l^T) o sigma'(a_{l-1}).

    Returns [delta_1, ..., delta_L], the error at every layer (the R-operator pass reuses them).
    """
    deltas = [None] * len(params)
    for l in range(len(params) - 1, -1, -1):
        deltas[l] = delta
        gW, gb = grads[l]
        np.matmul(hs[l].T, delta, out=gW)
        np.sum(delta, axis=0, out=gb)
        if l:
            delta = delta @ params[l][0].T
            delta *= slopes[l - 1]
    return deltas


def as_dtype(theta, X, Y):
    """X and Y in theta's dtype (no copy when they already are)."""
    return np.asarray(X, dtype=theta.dtype), np.asarray(Y, dtype=theta.dtype)


def loss_value(theta, X, Y, layout):
    """L(theta) alone: the forward pass without the ReLU slopes, in theta's dtype."""
    X, Y = as_dtype(theta, X, Y)
    return softmax_cross_entropy(forward_pass(views(theta, layout), X, slopes=False)[2], Y)[0]


def loss_and_grad(theta, X, Y, layout):
    """(L(theta), dL/dtheta) by backprop, in theta's dtype: one forward pass and `backprop`.

    Y is one-hot. The gradient is written block by block into one new flat vector through its views. Plain numpy
    (not traced by Autograd: compose `loss` / `loss_grad` for that).
    """
    X, Y = as_dtype(theta, X, Y)
    params = views(theta, layout)
    hs, slopes, z = forward_pass(params, X)
    value, p = softmax_cross_entropy(z, Y)
    g = np.empty_like(theta)
    backprop(params, hs, slopes, output_delta(p, Y), views(g, layout))
    return value, g


def r_forward(params, tparams, hs, slopes, r_in=None):
    """The R-operator's forward pass for all K tangents at once (tangent blocks (U_l, c_l) of (W_l, b_l)):

        R a_l = R h_{l-1} W_l + h_{l-1} U_l + c_l,   R h_l = sigma'(a_l) o R a_l,   R z = R a_L,

    with R h_0 = r_in, a (K, B, n_0) array, or None when the inputs do not depend on theta (the MLP; the CNN's
    dense layers get the R of their input features). Returns ([R h_0, ..., R h_{L-1}], R z), R z (K, B, classes).
    """
    last = len(params) - 1
    r_hs = [r_in]
    for l, ((W, _), (U, c)) in enumerate(zip(params, tparams)):
        r_a = hs[l] @ U                            # (K, B, n_out): h_{l-1} U_l for every tangent
        if r_hs[l] is not None:
            r_a += (r_hs[l].reshape(-1, W.shape[0]) @ W).reshape(r_a.shape)  # all K tangents in one product
        r_a += c[:, None, :]
        if l < last:
            r_hs.append(slopes[l] * r_a)
    return r_hs, r_a


def softmax_r_delta(p, r_z):
    """R delta_L = R p / B = p o (R z - <p, R z>) / B, row by row for each tangent (R z of shape (K, B, classes))."""
    r_delta = p * (r_z - np.sum(p * r_z, axis=-1, keepdims=True))
    r_delta /= p.shape[0]
    return r_delta


def r_backward(params, tparams, hs, slopes, deltas, r_hs, r_delta, hgrads):
    """The R-operator's reverse pass from R delta_L, writing into hgrads = views(H U): for l = L, ..., 1

        R dW_l = h_{l-1}^T R delta_l + R h_{l-1}^T delta_l,   R db_l = sum_i R delta_l,i,
        R delta_{l-1} = (R delta_l W_l^T + delta_l U_l^T) o sigma'(a_{l-1}),

    (the R h_0^T delta_1 term only when R h_0 is given). Returns the R of the error at the inputs,
    R(delta_1 W_1^T) = R delta_1 W_1^T + delta_1 U_1^T (K, B, n_0), when R h_0 was given, else None.
    """
    for l in range(len(params) - 1, -1, -1):
        hW, hb = hgrads[l]
        np.matmul(hs[l].T, r_delta, out=hW)
        np.sum(r_delta, axis=1, out=hb)
        if r_hs[l] is None:
            return None
        hW += r_hs[l].transpose(0, 2, 1) @ deltas[l]
        W, U = params[l][0], tparams[l][0]
        r_delta = (r_delta.reshape(-1, W.shape[1]) @ W.T).reshape(r_hs[l].shape)
        r_delta += deltas[l] @ U.transpose(0, 2, 1)
        if l:
            r_delta *= slopes[l - 1]
    return r_delta


def grad_and_hvps(theta, tangents, X, Y, layout):
    """(g, H U): the gradient g = dL/dtheta and H u_k for each row u_k of `tangents` (K, n), in one pass (Y one-hot).

    Pearlmutter's R-operator R{f} = d/dr f(theta + r u) at r = 0 applied to the forward and the backward
    pass (forward-over-reverse), with the tangents (U_l, c_l) of (W_l, b_l) carried for all K at once along
    a leading axis, so each product below is one (batched) matrix product:

        R h_0 = 0,   R a_l = R h_{l-1} W_l + h_{l-1} U_l + c_l,   R h_l = sigma'(a_l) o R a_l,   R z = R a_L,
        R delta_L = R p / B = p o (R z - <p, R z>) / B,
        R dW_l = R h_{l-1}^T delta_l + h_{l-1}^T R delta_l,   R db_l = sum_i R delta_l,i,
        R delta_{l-1} = (R delta_l W_l^T + delta_l U_l^T) o sigma'(a_{l-1}),

    using sigma'' = 0 (sigma' is piecewise constant; at a = 0 it is Autograd's 1/2, see `relu_slope`):
    `r_forward`, `softmax_r_delta`, `backprop` for g, `r_backward`. H u_k is the flat vector of
    (R dW_l, R db_l)_l for tangent k.
    """
    X, Y = as_dtype(theta, X, Y)
    params, tparams = views(theta, layout), views(tangents, layout)
    hs, slopes, z = forward_pass(params, X)
    _, p = softmax_cross_entropy(z, Y)
    r_hs, r_z = r_forward(params, tparams, hs, slopes)
    r_delta = softmax_r_delta(p, r_z)
    g, hvps = np.empty_like(theta), np.empty_like(tangents)
    deltas = backprop(params, hs, slopes, output_delta(p, Y), views(g, layout))
    r_backward(params, tparams, hs, slopes, deltas, r_hs, r_delta, views(hvps, layout))
    return g, hvps
