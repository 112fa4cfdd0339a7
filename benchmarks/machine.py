"""The machine a benchmark ran on, as every benchmark prints it: a timing means little without it
(on this collection's 2-core machines one training epoch took 32 s on one host and 3 min on another)."""

import os
import platform


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def record() -> dict:
    """The CPU model, architecture, core count and Python version, for a JSON record."""
    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }


def describe() -> str:
    """The same in words, e.g. "AMD EPYC (x86_64), 2 cores, Python 3.11.7"."""
    facts = record()
    return f"{facts['cpu']} ({facts['machine']}), {facts['cores']} cores, Python {facts['python']}"
