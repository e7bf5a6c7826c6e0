"""Strict JSON for tests, independent of the toolkit's own reader (shb.ground.io): NaN, Infinity and -Infinity
tokens are refused."""
import json


def strict_loads(text):
    def reject(token):
        raise ValueError(f"non-standard JSON token {token}")
    return json.loads(text, parse_constant=reject)
