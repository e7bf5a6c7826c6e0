"""symbolic/: SymPy derivations for the noisy quadratic model (NQM) of Section 2.2.

model     the stochastic update and the expectation operator
dynamics  Theorem 1: mean / variance recurrences
greedy    Eq. 15 (one-step loss) and Theorem 2 (greedy alpha*, mu*)
sgd       Theorems 3-4: SGD without momentum, the dynamic-programming optimum
codegen   `shb derive`: numpy code and docs/derivations.md from the above

Update rules beyond heavy ball (issue 16):
rules          an update rule as data (`Rule`) and the expectation operator over any state
optimizers     the rules: heavy ball, Nesterov, diagonal preconditioning, minibatch, iterate averaging
rule_moments   any rule's Theorem 1 (means, covariances, raw moments), its loss and adjoint
rule_greedy    any rule's greedy step where its one-step loss is a quadratic
codegen_rules  `shb derive`: numeric/nqm/generated_rules.py and docs/derivations_rules.md
"""
