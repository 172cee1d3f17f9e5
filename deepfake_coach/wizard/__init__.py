"""`dfcoach init`: the guided journey, one step at a time, resumable from dfcoach.yaml."""

from deepfake_coach.wizard.flow import InitOptions, run_wizard
from deepfake_coach.wizard.steps import STEPS

__all__ = ["InitOptions", "run_wizard", "STEPS"]
