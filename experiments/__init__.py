"""experiments/: the paper's figures (and ours) as verified plots.

    figures/        one module (or package) per registered figure or experiment
    registry.py     name -> figure; runner.py units of work on Dask, resumable; verified.py checks, stamps and
                    sidecars; report.py REPORT.md; reproduce.py `shb reproduce`; result.py, common.py
"""
