"""Settings shared by tests/ and fuzz/."""

from hypothesis import settings

# No deadline: a test must not fail because the machine is busy. Bounds on time
# belong in benchmarks, not in assertions.
settings.register_profile("default", deadline=None)
settings.load_profile("default")
