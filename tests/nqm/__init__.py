"""Tests of numeric/nqm/<module>.py in test_<module>.py. A package, because other folders have test files of the same
name (tests/symbolic/test_rules.py tests symbolic/rules.py); reference.py holds their test-only code."""
