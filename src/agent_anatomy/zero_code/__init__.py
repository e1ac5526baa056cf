"""``agent-anatomy run``: an unmodified program traced from outside, its anatomy printed when it exits.

``launcher`` starts the program and reads its spans back; ``bootstrap`` is what each of its Python processes runs
first (through ``site/sitecustomize.py``).
"""

from .launcher import RunResult, run_program

__all__ = ["RunResult", "run_program"]
