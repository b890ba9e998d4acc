"""Thread count for the peer benchmarks (bench_peers.py, train_peers.py).

OpenMP and MKL read OMP_NUM_THREADS/MKL_NUM_THREADS once, when torch is
imported, so a script calls set_thread_env(sys.argv[1:]) before importing
torch; its argparse --threads (default THREADS_DEFAULT) reads the same value
again for cspnet --threads and torch.set_num_threads.
"""
import os

THREADS_DEFAULT = 2


def set_thread_env(argv):
    """Sets OMP_NUM_THREADS (and MKL_NUM_THREADS unless set) from --threads in argv; returns the count."""
    threads = THREADS_DEFAULT
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            threads = int(argv[i + 1])
        elif a.startswith("--threads="):
            threads = int(a.split("=", 1)[1])
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("MKL_NUM_THREADS", str(threads))
    return threads
