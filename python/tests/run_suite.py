"""CTest's entry to the pytest suite: skips (printing why) without pytest or the module."""
import pathlib
import sys

try:
    import pytest
except ImportError:
    print("SKIPPED: pytest is not installed (scripts/install-deps.sh installs it)")
    sys.exit(0)
try:
    import cspnet  # noqa: F401
except ImportError as error:
    print(f"SKIPPED: the cspnet module is not importable ({error}); run scripts/build-python.sh")
    sys.exit(0)
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", str(pathlib.Path(__file__).parent)]))
