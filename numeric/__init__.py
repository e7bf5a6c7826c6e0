"""numeric/: what runs the derivations on numbers, in three parts.

    nqm/        the noisy quadratic model's engine: exact moments, adjoints, Monte-Carlo, schedules, lookahead
                (and the modules `shb derive` generates from symbolic/)
    networks/   the networks with their hand-derived derivatives, the data loaders and the training loop
    meta/       meta-optimization on the networks: hypergradients, offline SMD and online SMD
    optim.py    Adam, shared by the NQM's fitted schedules and by SMD
"""
