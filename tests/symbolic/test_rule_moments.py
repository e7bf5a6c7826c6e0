"""symbolic/rule_moments.py: the moments of a rule close only where its update is affine in the state and the noise;
the engine refuses what it cannot do. (Every rule's moments against Monte-Carlo of its update:
tests/nqm/test_montecarlo.py; against the paper's Theorem 1 for heavy ball: proofs/rules_heavy_ball.py and
tests/symbolic/test_codegen_rules.py.)
"""
import pytest

from shb.symbolic import model, rule_moments
from shb.symbolic.rules import Rule


def test_the_engine_refuses_a_non_affine_update():
    # Catches: second moments "closing" for an update whose second moments need fourth moments.
    squared = Rule("squared", "", "", state=(model.theta, model.v), initial=(1, 0),
                   step=lambda s, g: (s[model.theta] - model.alpha * g(s[model.theta]) ** 2, s[model.v]))
    with pytest.raises(ValueError, match="not affine"):
        rule_moments.affine_form(squared)
    with pytest.raises(ValueError, match="not available"):
        rule_moments.raw_step(squared)
