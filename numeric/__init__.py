"""numeric/: the NQM engine and the Autograd MLP/CNN."""
