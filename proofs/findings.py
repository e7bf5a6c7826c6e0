"""Findings: where the paper's printed statement (as far as the extracted text is legible) differs from the derivation.

Findings are data, not steps: the derivation is never changed to match the
text. Each entry quotes the extracted text verbatim (the PDF extraction lost
minus signs, hats, subscripts and fraction bars, so `legibility` says how far
the quote can be trusted), gives the derived form, and names the verified steps
that establish the derived form.
"""

FINDINGS = [
    {
        "id": "mu-star-sign",
        "where": "Theorem 2 (Section 2.2.3); Appendix A.2.1 and A.2.2",
        "printed": "μ(t)*=ihi(1α(t)*hi)𝔼[θi(t)vi(t)]ihiA(vi(t)).",
        "printed_reading": "mu* = sum_i h_i (1 - alpha* h_i) E[theta_i v_i] / sum_i h_i A(v_i)  (no minus sign)",
        "derived": "mu* = -sum_i h_i (1 - alpha* h_i) E[theta_i v_i] / sum_i h_i A(v_i); "
                   "in one dimension mu* = -sigma2 E[theta v] / (A(theta)A(v) + A(v) sigma2 - E[theta v]^2)",
        "checked_by": ["Theorem 2: A.2.1: engine mu* (minus sign restored)",
                       *[f"Theorem 2: A.2.2: mu* (n = {n}, minus sign restored)" for n in range(1, 5)],
                       "Theorem 2: sign of mu*: -mu* E[theta v] >= 0"],
        "legibility": "The extracted text shows no minus sign before mu*'s fraction, in Theorem 2 and in both "
                      "appendix derivations. The extraction also drops the minus signs of Eq. 1 and Eq. 10, so "
                      "the text alone cannot decide whether the PDF prints it; without it the formula is wrong "
                      "(the greedy momentum has the sign opposite to E[theta v] when sigma2 > 0).",
        "impact": "An implementation copying the unsigned formula takes a momentum of the wrong sign.",
    },
    {
        "id": "a1-noise-factor",
        "where": "Appendix A.1, third line of the update",
        "printed": "=(1α(t)h)θ(t)+μ(t)v(t)+hσξ.",
        "printed_reading": "theta(t+1) = (1 - alpha h) theta + mu v + h sigma xi",
        "derived": "theta(t+1) = (1 - alpha h) theta + mu v + alpha h sigma xi",
        "checked_by": ["Noisy quadratic model: Appendix A.1 one-line update (alpha restored on the noise)"],
        "legibility": "Legible: the line before reads alpha(t)(h theta + h sigma xi), the last line drops alpha "
                      "on the noise term.",
        "impact": "None on the results: Eq. 12 and Theorem 1 carry the correct (alpha h sigma)^2.",
    },
    {
        "id": "a3-recurrence",
        "where": "Appendix A.3, the recurrence for A(t)",
        "printed": "A(t)=(1α(t1)h)2((𝔼[θ(t1)])2+𝕍[θ(t1)]2)+(α(t1)hσ)2=(1α(t1)h)2Amin(T1)+(α(t1)hσ)2.",
        "printed_reading": "A(t) = (1 - alpha h)^2 (E[theta(t-1)]^2 + V[theta(t-1)]^2) + (alpha h sigma)^2 "
                           "= (1 - alpha h)^2 A_min(T-1) + (alpha h sigma)^2",
        "derived": "A(t) = (1 - alpha(t-1) h)^2 A(t-1) + (alpha(t-1) h sigma)^2 with A(t-1) = E[theta(t-1)]^2 + "
                   "V[theta(t-1)] (V not squared), a one-step recurrence in t",
        "checked_by": ["Theorem 3: A.3: A' without momentum"],
        "legibility": "Legible: the variance carries a square and the right-hand side switches to A_min(T-1), "
                      "mixing the generic step t with the final step T.",
        "impact": "Notation only; the derivation that follows uses the correct recurrence.",
    },
    {
        "id": "a3-derivative-index",
        "where": "Appendix A.3, the derivative of L_min",
        "printed": "dmindα(T1) =12hdAmin(T1)dα(T2)=0",
        "printed_reading": "dL_min/dalpha(T-1) = 1/2 h dA_min(T-1)/dalpha(T-2) = 0",
        "derived": "dL/dalpha(T-1) = 1/2 h dA(T)/dalpha(T-1) = 0",
        "checked_by": ["Theorem 3: Eq. 7: stationary point"],
        "legibility": "Legible: both indices on the right are one step early.",
        "impact": "Notation only.",
    },
    {
        "id": "a3-loss-constant",
        "where": "Appendix A.3 and Eq. 16",
        "printed": "min=12h(Amin(Tk)σ2kAmin(Tk)+σ2)+σ2. (16)",
        "printed_reading": "L_min = 1/2 h (A_min(T-k) sigma2 / (k A_min(T-k) + sigma2)) + sigma2",
        "derived": "L_min = 1/2 h (A_min(T-k) sigma2 / (k A_min(T-k) + sigma2) + sigma2): by Eq. 6 the constant "
                   "is 1/2 h sigma2, inside the factor 1/2 h",
        "checked_by": ["Theorem 4: Eq. 16", "Noisy quadratic model: Eqs. 5-6 expected loss"],
        "legibility": "Eq. 16's parenthesis visibly closes before '+ sigma2'; the earlier 'L_min = 1/2 h A_min(T) + "
                      "sigma2' may have lost its parentheses in extraction.",
        "impact": "A constant only: the minimising learning rates are unchanged.",
    },
    {
        "id": "a21-derivative-factor",
        "where": "Appendix A.2.1, the two partial derivatives",
        "printed": "α(t)(t+1) =(1α(t)h)A(θ(t))(h)μ(t)h𝔼[θ(t)v(t)]+α(t)(hσ)2=0",
        "printed_reading": "dL/dalpha = (1 - alpha h) A(theta)(-h) - mu h E[theta v] + alpha (h sigma)^2; "
                           "dL/dmu = mu A(v) + (1 - alpha h) E[theta v]",
        "derived": "dL/dalpha = h [(1 - alpha h) A(theta)(-h) - mu h E[theta v] + alpha (h sigma)^2], "
                   "dL/dmu = h [mu A(v) + (1 - alpha h) E[theta v]]: the printed forms are the derivatives of L/h",
        "checked_by": ["Theorem 2: A.2.1: dL/dalpha", "Theorem 2: A.2.1: dL/dmu"],
        "legibility": "Legible (the multivariate version in A.2.2 does carry the factor h_i).",
        "impact": "None: the derivatives are set to zero.",
    },
    {
        "id": "theorem3-index-range",
        "where": "Theorem 3",
        "printed": "For all T, the sequence of learning rates {α(t)*}t=1T1 that minimizes (θ(T)) is given by",
        "printed_reading": "the sequence {alpha(t)*}, t = 1..T-1, that minimizes L(theta(T))",
        "derived": "theta(T) depends on the T learning rates alpha(0), ..., alpha(T-1) (Appendix A.1 runs the "
                   "dynamics from t = 0 to T-1), and the quantity minimised is the expected loss E[L(theta(T))]",
        "checked_by": ["Theorem 4: inductive step f_k(f_1(A)) = f_(k+1)(A)", "Theorem 4: f_k is nondecreasing in A"],
        "legibility": "Legible; Section 2.2.3 indexes the schedule t = 1..T, Appendix A.1 t = 0..T-1.",
        "impact": "Indexing only: with t = 1..T-1 the first learning rate would be left out of the optimisation.",
    },
]
