"""The Brian2 devices: building the network (build), runtime runs (run), standalone projects (standalone),
brian2cuda (cuda) and the cache of compiled standalone binaries (build_cache)."""
