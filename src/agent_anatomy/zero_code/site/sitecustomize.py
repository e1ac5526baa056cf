"""Imported at start-up by every Python process of an ``agent-anatomy run`` (this folder is on PYTHONPATH).

It traces the process, takes this folder off ``sys.path`` so the program sees the path it would have had, and
then runs the ``sitecustomize`` this one hides, if there is one, as Python would have.
"""

import importlib.machinery
import importlib.util
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
try:
    from agent_anatomy.zero_code.bootstrap import start

    start()
except Exception as exc:  # never in the program's way: it runs untraced
    print(f"agent-anatomy run: this process is not traced: {exc}", file=sys.stderr)
finally:
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _here]
    _hidden = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
    if _hidden is not None and _hidden.loader is not None:
        _module = importlib.util.module_from_spec(_hidden)
        sys.modules["sitecustomize"] = _module  # what `import sitecustomize` gives from now on
        _hidden.loader.exec_module(_module)
