"""shb: the command-line front end of the short-horizon-bias toolkit."""
