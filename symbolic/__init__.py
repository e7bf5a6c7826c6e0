"""symbolic/: SymPy derivations for the noisy quadratic model (NQM) of Section 2.2.

The paper's statements for SGD with momentum (the proofs check them; docs/derivations.md prints them):
model     the stochastic update and the expectation operator
dynamics  Theorem 1: mean / variance recurrences; Eq. 6
greedy    Eq. 15 (one-step loss) and Theorem 2 (greedy alpha*, mu*)
sgd       Theorems 3-4: SGD without momentum, the dynamic-programming optimum

The engine, for every update rule (heavy ball is one):
rules          an update rule as data (`Rule`) and the expectation operator over any state
optimizers/    the registry: one module per rule (its update, its options, its label)
rule_moments   any rule's Theorem 1 (means, covariances, raw moments), its one-step loss and general adjoint
rule_adjoint   any rule's rank-one adjoint (gradients of a T-step loss without the penalty; the lookahead's loss)
rule_greedy    any rule's greedy step where its one-step loss is a quadratic

`shb derive`:
printer        the numpy and LaTeX printers
codegen        numeric/nqm/generated.py (every rule, and the paper's closed forms) and docs/derivations.md
codegen_rules  every rule's generated functions and docs/derivations_rules.md
"""
