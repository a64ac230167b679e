"""Ready workflows reproducing the seeds (SPEC A2); a shop starts from one and edits it."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from services.workflow.definition import Workflow
from services.workflow.reading import load_workflow

PRESETS = ("marketplace", "stages", "platform", "reseller")
DEFAULT_PRESET = "marketplace"


def preset_data(code: str) -> dict[str, Any]:
    """The raw definition of a preset, as stored in a new shop's first workflow version."""
    if code not in PRESETS:
        raise KeyError(f"unknown preset '{code}': choose one of {', '.join(PRESETS)}")
    text = resources.files(__name__).joinpath(f"{code}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@cache
def load_preset(code: str) -> Workflow:
    return load_workflow(preset_data(code))
