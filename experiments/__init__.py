"""experiments/: the paper's figures as verified plots, one module per figure."""
