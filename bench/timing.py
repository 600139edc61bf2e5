"""Small statistics and helpers shared by the benchmarks."""

import statistics
import subprocess
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a server the benchmark started; on a loaded machine SIGTERM may take a while."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
