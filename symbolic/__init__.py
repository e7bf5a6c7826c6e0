"""symbolic/: SymPy derivations for the noisy quadratic model (NQM) of Section 2.2.

model     the stochastic update and the expectation operator
dynamics  Theorem 1: mean / variance recurrences
greedy    Eq. 15 (one-step loss) and Theorem 2 (greedy alpha*, mu*)
sgd       Theorems 3-4: SGD without momentum, the dynamic-programming optimum
codegen   `shb derive`: numpy code and docs/derivations.md from the above
"""
