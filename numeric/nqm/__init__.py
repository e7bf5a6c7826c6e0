"""The noisy quadratic model (Section 2.2): problems, exact dynamics for every update rule, their adjoints,
Monte-Carlo simulation of the stochastic updates, the schedules (greedy, fixed, optimized, lookahead) and the
checks that certify them. The generated module (generated.py) is written by `shb derive`."""
