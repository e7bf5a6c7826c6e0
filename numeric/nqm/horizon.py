"""The K-step loss of one constant (alpha, mu) from given moments, with its exact gradient and Hessian.

Lookahead meta-optimization (online SMD, Section 3.3; K = 1 is Theorem 2's greedy step) asks, at step t, for
the constant pair (alpha, mu) minimizing the expected excess loss K steps ahead of the current moments:

    L_K(alpha, mu) = sum_i 1/2 h_i E[x_i(t + K)^2]      with (alpha_s, mu_s) = (alpha, mu) for s = t..t+K-1,

x the rule's loss iterate. With z the rule's state, its raw second moment M = E[z z^T] follows M' = F M F^T + N,
N = b b^T (symbolic/rule_adjoint.py), so with the "directions" w_0 = e (the loss iterate), w_{j+1} = F_{t+j}^T w_j
(the generated `<rule>_direction_step`, the rank-one adjoint's backward step, here taken K times with the same
pair, the extras of the steps ahead in reverse):

    L_K = sum_i 1/2 h_i ( w_K^T M_t w_K + sum_{j<K} w_j^T N_{t+K-1-j} w_j ),

the noise terms being the generated `<rule>_noise_form`. L_K is a polynomial of degree 2K in (alpha, mu): finite
everywhere, and (for K = 1) Eq. 15 summed over coordinates. Its gradient and Hessian come from running the same
generated functions on second-order jets in (alpha, mu) (forward-mode differentiation of the generated code:
exact up to rounding, no sampling).

Newton works in (a, mu) with a = alpha / (1 - mu) for K > 1 (effective=True): the valleys of L_K follow
roughly constant a, curved in (alpha, mu), straight in (a, mu).

Shapes: the moments and h, sigma2 broadcast over leading batch axes (..., d); alpha and mu broadcast against
the batch shape (...) of the result. tests/nqm/test_lookahead.py checks L_K against K steps of the generated
raw step and the jets against Autograd.
"""
import numpy as np

from shb.numeric.nqm.rules import generated, pairs, spec

# Order of a jet's components: value, d/dalpha, d/dmu, d2/dalpha2, d2/dalpha dmu, d2/dmu2.
VALUE, D_ALPHA, D_MU, D_AA, D_AM, D_MM = range(6)


class Jet:
    """A second-order Taylor jet in the two variables (alpha, mu): c[k] for the components above, each an
    array broadcasting over batch axes. Supports + - *, integer powers and division by a number or an array (all
    the generated functions use)."""

    __array_ufunc__ = None  # numpy arrays defer to Jet in mixed arithmetic (array * jet -> Jet.__rmul__)

    def __init__(self, c):
        self.c = c

    @classmethod
    def variable(cls, x, which):
        """alpha (which = D_ALPHA) or mu (which = D_MU) at the value x."""
        x = np.asarray(x, dtype=float)
        c = np.zeros((6,) + x.shape)
        c[VALUE], c[which] = x, 1.0
        return cls(c)

    @staticmethod
    def _lift(other):
        return other.c if isinstance(other, Jet) else None

    def __add__(self, other):
        o = self._lift(other)
        if o is None:
            c = self.c.copy() if np.ndim(other) == 0 else np.broadcast_to(self.c, (6,) + np.broadcast_shapes(
                self.c.shape[1:], np.shape(other))).copy()
            c[VALUE] = c[VALUE] + other
            return Jet(c)
        return Jet(self.c + o)

    __radd__ = __add__

    def __neg__(self):
        return Jet(-self.c)

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        o = self._lift(other)
        if o is None:
            return Jet(self.c * np.asarray(other))
        a, b = self.c, o
        c = a[VALUE] * b + b[VALUE] * a
        c[VALUE] = a[VALUE] * b[VALUE]
        c[D_AA] += 2 * a[D_ALPHA] * b[D_ALPHA]
        c[D_AM] += a[D_ALPHA] * b[D_MU] + a[D_MU] * b[D_ALPHA]
        c[D_MM] += 2 * a[D_MU] * b[D_MU]
        return Jet(c)

    __rmul__ = __mul__

    def __truediv__(self, other):
        """Division by a number or an array (a rule's extra, e.g. the minibatch's noise sigma2 / B); not by a Jet."""
        if isinstance(other, Jet):
            raise TypeError("Jet supports division by numbers and arrays only, not by a Jet")
        return Jet(self.c / np.asarray(other))

    def __pow__(self, k):
        if k != int(k) or k < 1:
            raise ValueError(f"Jet supports positive integer powers, got {k!r}")
        out = self
        for _ in range(int(k) - 1):
            out = out * self
        return out

    def sum(self, axis=-1):
        """Sum of the value and every derivative over `axis` of the batch (default: the coordinates)."""
        return Jet(self.c.sum(axis=axis if axis < 0 else axis + 1))


def quadratic_form(rule, raw, w):
    """w^T M w per coordinate, M the symmetric matrix of the raw second moments `raw` (in `pairs` order)."""
    total = 0.0
    for (a, b), m in zip(pairs(rule), raw):
        total = total + (m * (w[a] * w[a]) if a == b else 2.0 * m * (w[a] * w[b]))
    return total


def _loss(rule, alpha, mu, h, sigma2, raw, extras):
    """sum_i 1/2 h_i (w_K^T M w_K + sum_{j<K} w_j^T N w_j), on numbers or on Jets; K = len(extras), the extras of
    the K steps ahead (tuples, in order)."""
    meta = spec(rule)
    direction, noise_form = generated(rule, "direction_step"), generated(rule, "noise_form")
    w = tuple(1.0 + 0.0 * h if i == meta["loss_index"] else 0.0 * h for i in range(len(meta["state"])))
    noise = 0.0
    for extra in reversed(extras):
        noise = noise + noise_form(alpha, mu, h, sigma2, *extra, *w)
        w = direction(alpha, mu, h, sigma2, *extra, *w)
    per_coordinate = (0.5 * h) * (quadratic_form(rule, raw, w) + noise)
    return per_coordinate.sum(axis=-1) if isinstance(per_coordinate, Jet) else np.sum(per_coordinate, axis=-1)


def horizon_loss(rule, alpha, mu, h, sigma2, raw, extras, effective=False):
    """L_K(alpha, mu) from the raw moments `raw` (the rule's, each of shape (..., d)); K = len(extras).

    alpha, mu: arrays broadcasting against the batch shape (...); each is expanded with a trailing axis over
    the coordinates. Returns an array of the broadcast batch shape. effective=True: the first argument is the
    effective learning rate a = alpha / (1 - mu) (Section 3.3's parameterization), alpha = a (1 - mu).
    """
    alpha = np.asarray(alpha, dtype=float)[..., None]
    mu = np.asarray(mu, dtype=float)[..., None]
    return _loss(rule, alpha * (1.0 - mu) if effective else alpha, mu, h, sigma2, raw, extras)


def horizon_derivatives(rule, alpha, mu, h, sigma2, raw, extras, effective=False):
    """(L_K, gradient, Hessian) at (alpha, mu) (effective=True: at (a, mu), a = alpha / (1 - mu), and with
    respect to them): shapes (...), (2, ...) and (2, 2, ...), by forward-mode jets through the generated
    functions (exact up to rounding)."""
    alpha = Jet.variable(np.asarray(alpha, dtype=float)[..., None], D_ALPHA)
    mu = Jet.variable(np.asarray(mu, dtype=float)[..., None], D_MU)
    c = _loss(rule, alpha * (1.0 - mu) if effective else alpha, mu, h, sigma2, raw, extras).c
    gradient = np.stack([c[D_ALPHA], c[D_MU]])
    hessian = np.stack([np.stack([c[D_AA], c[D_AM]]), np.stack([c[D_AM], c[D_MM]])])
    return c[VALUE], gradient, hessian
