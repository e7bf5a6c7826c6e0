"""The proof kernel: a few kinds of step, each decided by SymPy and never by hand.

A proof is a sequence of named steps. Every step is a claim with a mechanical
check; a step holds only when the check returns a definite yes:

Identity        lhs - rhs is the zero function: the numerator of
                together(lhs - rhs) expands to 0 (valid wherever the
                denominators are nonzero).
Substitutes     expr, after the substitution, is identical to result.
Solves          the proposed solution satisfies every equation identically and,
                for a linear system, the coefficient determinant is not the zero
                polynomial, so the solution is the unique one wherever it is nonzero.
Nonnegative     expr >= 0, by a certificate expr * prod(hypotheses) = sum_k w_k s_k
                where every weight w_k is nonnegative by SymPy's assumption system
                and s_k is a square b_k^2 or an expectation of a square E[b_k^2]
                (the only axiom: an expectation of a square is >= 0); or, without
                a certificate, by the assumption system answering True.
Positive        expr > 0 by the assumption system (None or False is a failure).
PositiveSemidefinite
                a symmetric matrix M with z^T M z = a Nonnegative certificate,
                or with every principal minor nonnegative by the assumption system.

Hypotheses are positive quantities a claim is conditional on ("whenever D > 0");
the kernel discharges those the assumption system proves positive and lists the
others as conditions of the claim.
"""
import itertools
import time
from dataclasses import dataclass, field

import sympy as sp

from shb.proofs import notation

SIMPLIFY_LIMIT = 400  # count_ops above which a nonzero expanded residual is not handed to sp.simplify


@dataclass
class Result:
    """The verdict on one step."""

    theorem: str
    step: str
    kind: str
    claim: str
    latex: str
    holds: bool
    seconds: float
    detail: str


def vanishes(expr):
    """(True, how) when expr is identically zero, else (False, residual)."""
    expr = sp.sympify(expr)
    num, den = sp.fraction(sp.together(expr))
    if sp.expand(den) == 0:
        return False, "denominator is identically zero"
    num = sp.expand(num)
    if num == 0:
        return True, "numerator expands to 0"
    if sp.count_ops(num) <= SIMPLIFY_LIMIT and sp.simplify(num) == 0:
        return True, "numerator simplifies to 0"
    return False, f"nonzero residual {notation.short(num)}"


def _entries(value):
    """The scalar entries of an expression or a matrix."""
    if isinstance(value, sp.MatrixBase):
        return list(value)
    return [sp.sympify(value)]


def _with_assumptions(expr, assume):
    """Replace symbols by copies carrying the stated assumptions, e.g. {sigma2: {"positive": True}}."""
    if not assume:
        return sp.sympify(expr)
    fresh = {s: sp.Symbol(s.name, **kw) for s, kw in assume.items()}
    return sp.sympify(expr).xreplace(fresh)


def _assumed(expr, question, assume):
    """SymPy's assumption system on expr (and on its factored form); only True counts."""
    expr = _with_assumptions(expr, assume)
    for candidate in (expr, sp.factor(expr)):
        if getattr(candidate, question) is True:
            return True
    return False


class Step:
    """A named claim with a mechanical check; subclasses define _check and _latex."""

    kind = "step"

    def __init__(self, name, claim, latex=None):
        self.name = name
        self.claim = claim
        self.latex_override = latex

    def latex(self):
        return self.latex_override if self.latex_override is not None else self._latex()

    def check(self):
        """(holds, detail); any exception is a failure, never a pass."""
        try:
            return self._check()
        except Exception as err:  # a step that cannot be decided fails
            return False, f"error while checking: {type(err).__name__}: {err}"

    def run(self, theorem):
        start = time.perf_counter()
        holds, detail = self.check()
        seconds = time.perf_counter() - start
        try:
            latex = self.latex()
        except Exception as err:
            latex = f"\\text{{(no LaTeX: {type(err).__name__})}}"
        return Result(theorem, self.name, self.kind, self.claim, latex, bool(holds), seconds, detail)


class Identity(Step):
    """lhs == rhs as functions (scalars or matrices, entrywise)."""

    kind = "identity"

    def __init__(self, name, claim, lhs, rhs, latex=None):
        super().__init__(name, claim, latex)
        self.lhs, self.rhs = lhs, rhs

    def _check(self):
        lhs, rhs = _entries(self.lhs), _entries(self.rhs)
        if len(lhs) != len(rhs) or not lhs:
            return False, "shapes differ or nothing to compare"
        if isinstance(self.lhs, sp.MatrixBase) and isinstance(self.rhs, sp.MatrixBase) \
                and self.lhs.shape != self.rhs.shape:
            return False, "shapes differ"
        for i, (a, b) in enumerate(zip(lhs, rhs)):
            ok, how = vanishes(a - b)
            if not ok:
                return False, f"entry {i}: {how}"
        return True, how

    def _latex(self):
        return f"{notation.tex(self.lhs)} = {notation.tex(self.rhs)}"


class Substitutes(Step):
    """expr under `substitution` (simultaneous) is identical to result."""

    kind = "substitution"

    def __init__(self, name, claim, expr, substitution, result, latex=None):
        super().__init__(name, claim, latex)
        self.expr, self.substitution, self.result = expr, dict(substitution), result

    def _substituted(self):
        if isinstance(self.expr, sp.MatrixBase):
            return self.expr.subs(self.substitution, simultaneous=True)
        return sp.sympify(self.expr).subs(self.substitution, simultaneous=True)

    def _check(self):
        return Identity(self.name, self.claim, self._substituted(), self.result)._check()

    def _latex(self):
        subs = ",\\ ".join(f"{notation.tex(k)} \\to {notation.tex(v)}" for k, v in self.substitution.items())
        return f"\\left.{notation.tex(self.expr)}\\right|_{{{subs}}} = {notation.tex(self.result)}"


class Solves(Step):
    """`solution` (a dict) solves `equations` (expressions = 0) in `unknowns`."""

    kind = "solves"

    def __init__(self, name, claim, equations, unknowns, solution, unique=True, latex=None):
        super().__init__(name, claim, latex)
        self.equations, self.unknowns = list(equations), list(unknowns)
        self.solution, self.unique = dict(solution), unique

    def _check(self):
        if set(self.solution) != set(self.unknowns):
            return False, "the solution does not assign exactly the unknowns"
        for i, eq in enumerate(self.equations):
            ok, how = vanishes(sp.sympify(eq).subs(self.solution, simultaneous=True))
            if not ok:
                return False, f"equation {i} is not satisfied: {how}"
        if not self.unique:
            return True, "the solution satisfies every equation (uniqueness not claimed)"
        matrix = self.coefficients()
        if matrix is None:
            return False, "uniqueness claimed but the system is not linear in the unknowns"
        if sp.expand(matrix.det()) == 0:
            return False, "the coefficient determinant is identically zero: the solution is not unique"
        return True, "satisfies every equation; linear system with a determinant that is not identically zero"

    def coefficients(self):
        """The coefficient matrix of a linear system, or None when some equation is not linear."""
        rows = []
        for eq in self.equations:
            poly = sp.Poly(sp.expand(sp.sympify(eq)), *self.unknowns)
            if poly.total_degree() > 1:
                return None
            rows.append([poly.coeff_monomial(u) for u in self.unknowns])
        return sp.Matrix(rows)

    def _latex(self):
        eqs = " \\\\ ".join(f"{notation.tex(e)} = 0" for e in self.equations)
        sol = ",\\quad ".join(f"{notation.tex(u)} = {notation.tex(self.solution[u])}" for u in self.unknowns)
        return f"\\begin{{cases}} {eqs} \\end{{cases}} \\Longleftarrow {sol}"


@dataclass
class Square:
    """A certificate term weight * base^2, or weight * E[base^2] when `expect` is given."""

    weight: object
    base: object
    expect: object = None
    label: str = field(default="")

    def value(self):
        square = sp.expand(sp.sympify(self.base) ** 2)
        return self.weight * (self.expect(square) if self.expect else square)

    def latex(self):
        inner = f"\\left({notation.tex(self.base)}\\right)^{{2}}"
        body = f"\\mathbb{{E}}{self.label}\\left[{inner}\\right]" if self.expect else inner
        return f"{notation.tex(self.weight)}\\,{body}"


class _Sign(Step):
    """Shared by Nonnegative and Positive: hypotheses and assumptions."""

    question = "is_nonnegative"
    relation = "\\ge"

    def __init__(self, name, claim, expr, certificate=(), hypotheses=(), assume=None, latex=None):
        super().__init__(name, claim, latex)
        self.expr = expr
        self.certificate = list(certificate)
        self.hypotheses = list(hypotheses)
        self.assume = dict(assume or {})

    def _conditions(self):
        """Split hypotheses into those the assumption system proves and those the claim assumes."""
        proved = [g for g in self.hypotheses if _assumed(g, "is_positive", self.assume)]
        return proved, [g for g in self.hypotheses if g not in proved]

    def _target(self):
        return sp.Mul(sp.sympify(self.expr), *self.hypotheses)

    def _check(self):
        if self.certificate:
            return self._check_certificate()
        if _assumed(self._target(), self.question, self.assume):
            return True, f"assumption system: {self.question[3:]}" + self._condition_text()
        return False, f"assumption system cannot show {self.question[3:]}"

    def _check_certificate(self):
        for term in self.certificate:
            if not _assumed(term.weight, "is_nonnegative", self.assume):
                return False, f"weight {notation.short(term.weight)} is not provably nonnegative"
        ok, how = vanishes(self._target() - sum(term.value() for term in self.certificate))
        if not ok:
            return False, f"certificate does not match: {how}"
        return True, "sum-of-squares certificate matches" + self._condition_text()

    def _condition_text(self):
        proved, assumed = self._conditions()
        text = ""
        if proved:
            text += "; positive by assumptions: " + ", ".join(notation.short(g) for g in proved)
        if assumed:
            text += "; conditional on > 0: " + ", ".join(notation.short(g) for g in assumed)
        if self.assume:
            text += "; assuming " + ", ".join(f"{s} {' '.join(kw)}" for s, kw in self.assume.items())
        return text

    def _latex(self):
        body = f"{notation.tex(self.expr)} {self.relation} 0"
        if self.certificate:
            factor = "".join(f"\\left({notation.tex(g)}\\right)" for g in self.hypotheses)
            cert = " + ".join(term.latex() for term in self.certificate)
            body += f", \\quad {factor}\\left({notation.tex(self.expr)}\\right) = {cert}"
        if self.hypotheses:
            body += "\\quad\\text{given } " + ",\\ ".join(f"{notation.tex(g)} > 0" for g in self.hypotheses)
        if self.assume:
            body += "\\quad\\text{assuming } " + ",\\ ".join(
                f"{notation.tex(s)}\\ \\text{{{' '.join(kw)}}}" for s, kw in self.assume.items())
        return body


class Nonnegative(_Sign):
    """expr >= 0 (given hypotheses > 0), by certificate or by the assumption system."""

    kind = "nonnegative"


class Positive(_Sign):
    """expr > 0 (given hypotheses > 0), by the assumption system only."""

    kind = "positive"
    question = "is_positive"
    relation = ">"

    def __init__(self, name, claim, expr, hypotheses=(), assume=None, latex=None):
        super().__init__(name, claim, expr, (), hypotheses, assume, latex)


class PositiveSemidefinite(Step):
    """A symmetric matrix is PSD: z^T M z has a Nonnegative certificate, or all principal minors are >= 0."""

    kind = "psd"

    def __init__(self, name, claim, matrix, z=None, certificate=(), assume=None, latex=None):
        super().__init__(name, claim, latex)
        self.matrix = sp.Matrix(matrix)
        self.z, self.certificate, self.assume = z, list(certificate), dict(assume or {})

    def _check(self):
        m = self.matrix
        if m.rows != m.cols:
            return False, "not a square matrix"
        ok, how = Identity(self.name, self.claim, m, m.T)._check()
        if not ok:
            return False, f"not symmetric: {how}"
        if self.certificate:
            z = sp.Matrix(self.z)
            form = sp.expand((z.T * m * z)[0, 0])
            return Nonnegative(self.name, self.claim, form, self.certificate, assume=self.assume)._check()
        for size in range(1, m.rows + 1):
            for rows in itertools.combinations(range(m.rows), size):
                minor = m.extract(list(rows), list(rows)).det()
                if not _assumed(sp.expand(minor), "is_nonnegative", self.assume):
                    return False, f"principal minor {rows} = {notation.short(minor)} is not provably >= 0"
        return True, "every principal minor is nonnegative"

    def _latex(self):
        body = f"{notation.tex(self.matrix)} \\succeq 0"
        if self.certificate:
            z = sp.Matrix(self.z)
            cert = " + ".join(term.latex() for term in self.certificate)
            body += f", \\quad z^\\top M z = {cert},\\ z = {notation.tex(z.T)}"
        return body
