"""Claims this package does not prove symbolically: each is a numerical check in the test suite, never a verified step.

They are listed in `shb prove --json` under "numerical_only" and in the report,
and are not counted among the steps.
"""

NUMERICAL_ONLY = [
    {
        "theorem": "Deterministic case",
        "claim": "For a deterministic quadratic (sigma2 = 0), the iterates of greedy SGD with momentum (Theorem 2 at "
                 "every step, greedy SGD at t = 0) coincide with those of conjugate gradient at every step, for any "
                 "dimension and horizon.",
        "proved_here": "Only the one-step part: a greedy step minimises f over the CG search plane "
                       "theta + span{grad f, previous step} (n = 1..4), and two greedy steps reach the optimum "
                       "for n = 2 (CG's finite termination).",
        "status": "numerical check in the test suite (the NQM numeric engine's tests compare greedy-with-momentum "
                  "against conjugate gradient)",
    },
    {
        "theorem": "Deterministic case",
        "claim": "Hence (K-FAC, Section 2.1) the greedy schedule achieves the minimum loss of any sequence of "
                 "learning rates and momenta on a deterministic quadratic, because CG minimises f over the Krylov "
                 "subspace at every step.",
        "proved_here": "Nothing beyond the one-step statement above; CG's Krylov optimality is cited, not proved.",
        "status": "numerical check in the test suite (follows from the CG comparison)",
    },
]
