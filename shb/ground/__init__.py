"""The ground floor: what every other floor uses, importing nothing else of the project.

errors       library errors (ShbError and its kinds); the front end prints them on one line
io           atomic file writes, strict JSON, output paths proven writable
limits       sizes checked before work: memory, time, worker processes
lock         one run per output folder
fingerprint  what saved progress was made from, and what differs
schema       structure checks of data read back
progress     the progress bar
blas         one BLAS thread per worker process
provenance   package versions and the git commit of the code that made a result
resources    where an installed toolkit keeps its generated files
"""
