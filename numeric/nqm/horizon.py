"""The K-step loss of one constant (alpha, mu) from given moments, with its exact gradient and Hessian.

Lookahead meta-optimization (online SMD, Section 3.3; K = 1 is Theorem 2's greedy step) asks, at step t, for
the constant pair (alpha, mu) minimizing the expected excess loss K steps ahead of the current moments:

    L_K(alpha, mu) = sum_i 1/2 h_i E[theta_i(t + K)^2]      with (alpha_s, mu_s) = (alpha, mu) for s = t..t+K-1.

With z = (theta, v) per coordinate, the raw second moment M = E[z z^T] follows (Theorem 1 in raw moments,
symbolic/adjoint.py) M' = A M A^T + n b b^T, b = (1, 1), n = (alpha h)^2 sigma2, A the mean matrix of one
step. For a constant pair A and n do not change over the K steps, so

    M_{t+K} = A^K M_t (A^T)^K + n sum_{j<K} A^j b b^T (A^T)^j

and with the "directions" w_0 = e_theta, w_{j+1} = A^T w_j and s_j = b . w_j (the generated `direction_step`,
the rank-one adjoint's backward step, here iterated K times with the same pair):

    L_K = sum_i 1/2 h_i ( w_K^T M_t w_K + (alpha h_i)^2 sigma2_i sum_{j<K} s_j^2 ),
    w^T M w = A(theta) w_theta^2 + 2 E[theta v] w_theta w_v + A(v) w_v^2.

L_K is a polynomial of degree 2K in (alpha, mu): finite everywhere, and (for K = 1) Eq. 15 summed over
coordinates. Its gradient and Hessian come from running the same generated `direction_step` on second-order
jets in (alpha, mu) (forward-mode differentiation of the generated code: exact up to rounding, no sampling).

Newton works in (a, mu) with a = alpha / (1 - mu) for K > 1 (effective=True): the valleys of L_K follow
roughly constant a, curved in (alpha, mu), straight in (a, mu).

Shapes: the moments and h, sigma2 broadcast over leading batch axes (..., d); alpha and mu broadcast against
the batch shape (...) of the result. tests/test_nqm_horizon.py checks L_K against K steps of the generated
`raw_step` (Theorem 1) and the jets against Autograd.
"""
import numpy as np

from shb.numeric.nqm.generated import direction_step, raw_moments

# Order of a jet's components: value, d/dalpha, d/dmu, d2/dalpha2, d2/dalpha dmu, d2/dmu2.
VALUE, D_ALPHA, D_MU, D_AA, D_AM, D_MM = range(6)


class Jet:
    """A second-order Taylor jet in the two variables (alpha, mu): c[k] for the components above, each an
    array broadcasting over batch axes. Supports + - * and integer powers (all the generated step uses)."""

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


def _loss(alpha, mu, h, sigma2, A_theta, A_v, E_theta_v, K):
    """sum_i 1/2 h_i (w_K^T M w_K + (alpha h_i)^2 sigma2_i sum_{j<K} s_j^2), on numbers or on Jets."""
    w_theta, w_v, noise = 1.0 + 0.0 * h, 0.0 * h, 0.0
    for _ in range(K):
        w_theta, w_v, s = direction_step(alpha, mu, h, w_theta, w_v)
        noise = noise + s * s
    quadratic = A_theta * (w_theta * w_theta) + 2.0 * E_theta_v * (w_theta * w_v) + A_v * (w_v * w_v)
    ah = alpha * h
    per_coordinate = (0.5 * h) * (quadratic + sigma2 * (ah * ah) * noise)
    return per_coordinate.sum(axis=-1) if isinstance(per_coordinate, Jet) else np.sum(per_coordinate, axis=-1)


def horizon_loss(alpha, mu, h, sigma2, raw, K, effective=False):
    """L_K(alpha, mu) from raw moments raw = (A(theta), A(v), E[theta v]) of shape (..., d).

    alpha, mu: arrays broadcasting against the batch shape (...); each is expanded with a trailing axis over
    the coordinates. Returns an array of the broadcast batch shape. effective=True: the first argument is the
    effective learning rate a = alpha / (1 - mu) (Section 3.3's parameterization), alpha = a (1 - mu).
    """
    alpha = np.asarray(alpha, dtype=float)[..., None]
    mu = np.asarray(mu, dtype=float)[..., None]
    return _loss(alpha * (1.0 - mu) if effective else alpha, mu, h, sigma2, *raw, int(K))


def horizon_derivatives(alpha, mu, h, sigma2, raw, K, effective=False):
    """(L_K, gradient, Hessian) at (alpha, mu) (effective=True: at (a, mu), a = alpha / (1 - mu), and with
    respect to them): shapes (...), (2, ...) and (2, 2, ...), by forward-mode jets through the generated
    `direction_step` (exact up to rounding)."""
    alpha = Jet.variable(np.asarray(alpha, dtype=float)[..., None], D_ALPHA)
    mu = Jet.variable(np.asarray(mu, dtype=float)[..., None], D_MU)
    c = _loss(alpha * (1.0 - mu) if effective else alpha, mu, h, sigma2, *raw, int(K)).c
    gradient = np.stack([c[D_ALPHA], c[D_MU]])
    hessian = np.stack([np.stack([c[D_AA], c[D_AM]]), np.stack([c[D_AM], c[D_MM]])])
    return c[VALUE], gradient, hessian
