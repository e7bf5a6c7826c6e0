"""symbolic/rules.py: the expectation operator over any rule's state uses only the moments it was given."""
import pytest

from shb.symbolic import model
from shb.symbolic.optimizers.heavy_ball import RULE as HEAVY_BALL
from shb.symbolic.rules import expect, raw_moment_table


def test_expect_needs_the_moments_it_uses():
    # Catches: a third moment of the state silently taken as 0 (or as anything), and the normal's moments wrong.
    with pytest.raises(ValueError, match="not available"):
        expect(model.theta**3, HEAVY_BALL, raw_moment_table(HEAVY_BALL))
    assert expect(model.xi**4 * model.theta**2, HEAVY_BALL, raw_moment_table(HEAVY_BALL)) == 3 * model.A_theta
    assert expect(model.xi * model.theta**2, HEAVY_BALL, raw_moment_table(HEAVY_BALL)) == 0
