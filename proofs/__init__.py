"""proofs/: machine-checked proofs of the paper's theorems, one module per theorem or claim.

kernel          the step checker: Identity, Substitutes, Solves, Nonnegative, Positive, PositiveSemidefinite
notation        the paper's notation for LaTeX
coordinates     explicit coordinates i = 1..n for the multivariate statements
nqm             Eqs. 1-6: the engine's update is SGD with momentum on the noisy quadratic
theorem1        Theorem 1, Eqs. 10-15 (Appendix A.1)
theorem2        Theorem 2, univariate and multivariate, and the sign of mu* (Appendix A.2)
convexity       the one-step loss is convex in (alpha, mu); the greedy point is its global minimum
theorem3        Theorem 3, Eq. 7 (Appendix A.3)
theorem4        Theorem 4, Eqs. 16-17: the dynamic programme, greedy is optimal without momentum
spherical       Section 2.2.4: the spherical case reduces to the univariate one
deterministic   sigma2 = 0: a greedy momentum step searches the conjugate-gradient plane
rules_*         update rules beyond heavy ball: the engine's Theorem 1 for every rule by the matrix form,
                heavy ball through the engine, Nesterov, preconditioning, minibatch size, iterate averaging
findings        where the printed text differs from the derivation (data, not steps)
numerical_only  claims left to the numeric test suite (not steps)
runner, report  run_all() and the Markdown / JSON proof report (`shb prove`)
"""


def run_all(on_result=None):
    """Run every proof; returns the list of proofs.kernel.Result, one per step."""
    from shb.proofs import runner

    return runner.run_all(on_result)


def reproduce_section(path):
    """For `shb reproduce`: run every proof, write the Markdown report to `path`, return the REPORT.md section."""
    from shb.proofs import report

    return report.reproduce_section(path)
