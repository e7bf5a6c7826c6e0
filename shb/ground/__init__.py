"""The ground floor: what every other floor uses, importing nothing else of the project.

errors       library errors (ShbError and its kinds); the front end prints them on one line
io           atomic file writes, strict JSON
progress     the progress bar
blas         one BLAS thread per worker process
provenance   package versions and the git commit of the code that made a result
resources    where an installed toolkit keeps its generated files
"""
