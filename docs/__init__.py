"""The toolkit's documents: derivations.md (written by `shb derive`), proofs.md (`shb prove --report`) and the
guides. Installed as package data of `shb.docs`, so an installed toolkit (a wheel outside any checkout) can check
its generated documents as a source checkout does."""
