"""proofs/: machine-checked proofs of the paper's theorems, one module per theorem or claim."""
