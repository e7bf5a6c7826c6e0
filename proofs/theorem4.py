"""Theorem 4 (Appendix A.3, Eqs. 16-17): the dynamic programme for SGD without momentum in one dimension.

Let f_k(A) = A sigma2 / (k A + sigma2): the smallest A reachable k optimal steps
after A. By induction on k:
  base      f_0(A) = A and f_1(A) = min over alpha of A' (Theorem 3);
  step      min over alpha(T-k-1) of f_k(A(T-k)) = f_k(f_1(A(T-k-1))) = f_{k+1}(A(T-k-1)),
            because f_k is nondecreasing in A (d f_k/dA = sigma2^2/(kA + sigma2)^2 >= 0), so
            minimising A(T-k) over alpha(T-k-1) (the greedy step) minimises f_k, and
            f_k(f_1(a)) = f_{k+1}(a) is the paper's identity
            (ab/(a+b)) b / (k ab/(a+b) + b) = ab / ((k+1) a + b) with b = sigma2.
Hence E[L_min] = 1/2 h (f_k(A(T-k)) + sigma2) (Eq. 16) and the optimal schedule is
the greedy one, alpha_t = A_t / (h (A_t + sigma2)) (Eq. 17); along it
A_t = A_0 sigma2 / (t A_0 + sigma2) and alpha_t = A_0 / (h ((t+1) A_0 + sigma2)).
"""
import sympy as sp

from shb.proofs.kernel import Identity, Nonnegative, Substitutes
from shb.proofs.notation import eq
from shb.symbolic import dynamics, model, sgd

THEOREM = "Theorem 4"
CITES = "Theorem 4; Eqs. 16-17; Theorem 3; Appendix A.3"
STATEMENT = r"""
For all $T$ and $1 \le k \le T$, $\mathbb{E}[\mathcal{L}_{\min}] = \tfrac12 h\left(\frac{A_{\min}^{(T-k)}\sigma^2}{k A_{\min}^{(T-k)} + \sigma^2} + \sigma^2\right)$
(Eq. 16), and the optimal learning rate at step $t$ is $\alpha^{(t)*} = A^{(t)}/(h(A^{(t)} + \sigma^2))$ (Eq. 17):
the greedy schedule is optimal for SGD without momentum in one dimension.
"""

h, s2, A, k = model.h, model.sigma2, sgd.A, sgd.k
a_, b_ = sp.symbols("a b", positive=True)
kp = sp.Symbol("k", integer=True, positive=True)


def f(steps_, start=A):
    """A after `steps_` optimal steps from `start`."""
    return start * s2 / (steps_ * start + s2)


def steps():
    yield Identity("Theorem 4: engine closed form", "The engine's rsolve solution of 1/A' = 1/A + 1/sigma2 is f_k.",
                   sgd.min_A_after(k), f(k), latex=eq("A_{\\min}^{(k)}", f(k)))
    yield Substitutes("base case k = 0", "f_0(A) = A: no step, no change.", f(k), {k: 0}, A)
    yield Identity("base case k = 1", "f_1 is Theorem 3's minimal A'.", f(1), sgd.min_next_A(),
                   latex=eq("f_1(A)", sgd.min_next_A()))
    c = a_ * b_ / (a_ + b_)
    yield Identity("the paper's identity", "(ab/(a+b)) b / (k ab/(a+b) + b) = ab / ((k+1) a + b).",
                   c * b_ / (k * c + b_), a_ * b_ / ((k + 1) * a_ + b_))
    yield Identity("inductive step f_k(f_1(A)) = f_(k+1)(A)", "Composing one optimal step with k more gives k+1 steps.",
                   f(k, f(1)), f(k + 1), latex="f_k(f_1(A)) = f_{k+1}(A)")
    yield Nonnegative("f_k is nondecreasing in A", "d f_k / dA = sigma2^2 / (k A + sigma2)^2 >= 0 (k >= 1, A > 0): "
                      "minimising the next A minimises the final A, so the greedy step is optimal.",
                      sp.diff(f(kp), A),
                      latex=eq("\\partial_A f_k(A)", sp.factor(sp.diff(f(kp), A))) + "\\ \\ge 0,\\ k \\ge 1")
    loss = dynamics.excess_loss_component() + h * s2 / 2
    yield Substitutes("Eq. 16", "E[L_min] = 1/2 h (E[theta]^2 + V[theta] + sigma2) (Eq. 6) with E[theta]^2 + V[theta] = "
                      "f_k(A(T-k)): the constant sigma2 sits inside the factor 1/2 h.",
                      loss, {model.var_theta: f(k) - model.mean_theta**2}, h * (f(k) + s2) / 2,
                      latex=eq("\\mathbb{E}[\\mathcal{L}_{\\min}]", h * (f(k) + s2) / 2))
    yield from schedule_steps()


def schedule_steps():
    """Eq. 17 along the optimal trajectory: the 1/t learning-rate decay."""
    t = sp.Symbol("t", integer=True, nonnegative=True)
    A_t = f(t)
    alpha_t = A_t / (h * (A_t + s2))
    closed = A / (h * ((t + 1) * A + s2))
    yield Identity("Eq. 17 along the optimal trajectory", "alpha_t = A_t/(h(A_t + sigma2)) = A_0 / (h ((t+1) A_0 + sigma2)).",
                   alpha_t, closed, latex=eq("\\alpha^{(t)*}", closed))
