"""Meta-optimization on the networks (Section 3): exact forward-mode hypergradients (hypergrad.py), offline
stochastic meta-descent and its meta-objective surface (smd.py), and online SMD while a network trains
(online_smd.py)."""
