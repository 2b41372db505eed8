"""How many threads a test gives llama.cpp (and a learner process's torch).

Two on a lone test process, the product's own choice on two cores when nothing else runs. One
when pytest-xdist runs several workers on the same cores: llama.cpp's threads spin at every
barrier while they wait for each other, so two of them on a core another worker is using wait far
longer than one thread computes (measured on 2 cores: 2 threads ~150 tokens/s idle but ~47 under
load, 1 thread ~72 under load; ``config._default_threads``).
"""

from __future__ import annotations

import os

WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
THREADS = 1 if WORKERS > 1 else 2
