"""Tests of symbolic/<module>.py in test_<module>.py. A package, because other folders have test files of the same
name (tests/nqm/test_rules.py tests numeric/nqm/rules.py)."""
