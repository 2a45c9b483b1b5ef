"""The wire models are one package of modules, each imported on first use of one of its names."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import credits_tui.api_client.models as models

PACKAGE = Path(models.__file__).parent


def defined_names(module_file: Path) -> set[str]:
    """The public names a module's own code defines (classes, functions, constants, aliases)."""
    names: set[str] = set()
    for node in ast.parse(module_file.read_text()).body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_")}


def test_every_model_is_importable_from_the_package_as_the_same_object():
    seen: set[str] = set()
    for module_file in sorted(PACKAGE.glob("[!_]*.py")):
        module = import_module(f"{models.__name__}.{module_file.stem}")
        for name in defined_names(module_file):
            assert getattr(models, name) is getattr(module, name), f"{module_file.stem}.{name}"
            seen.add(name)
    assert sorted(seen) == models.__all__


def test_the_balance_model_loads_only_the_modules_it_is_made_of():
    code = ("import sys\nfrom credits_tui.api_client.models import AccountStatus\n"
            "AccountStatus.model_validate({'account': {'id': 1, 'name': 'Demo Co.'}, 'purchase_credits': '5.00', "
            "'card_on_file': None, 'free_quotas': [], 'auto_recharge': {'enabled': False}})\n"
            "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('credits_tui.api_client.models.')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    loaded = set(ast.literal_eval(result.stdout.strip()))
    assert {"credits", "wire"} <= loaded
    assert not loaded & {"audit", "billing"}
