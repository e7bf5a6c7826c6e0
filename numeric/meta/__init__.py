"""Meta-optimization on the networks (Section 3): exact forward-mode hypergradients (hypergrad.py), offline
stochastic meta-descent and its meta-objective surface (smd.py), and online SMD while a network trains: its
reparameterization (reparam.py), the lookahead's hypergradient (lookahead.py), the run (online_smd.py), the run's
state and its saved form (online_state.py) and the checks of a saved state (online_schema.py)."""
