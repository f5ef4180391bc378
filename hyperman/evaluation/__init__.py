"""Evaluate sampled nets against baselines: members, ensembles, diversity, symmetries, paths, OOD, FGSM.

The package holds one module per concern: `config` (EvalConfig and its
check), `inputs` (loading and cross-checking), `context` (the shared state and
the one test-set forward of every net, through hyperman.forward), one module
per metric family over those probabilities (`ensembles`, `diversity`,
`paths`, `ood`, `adversarial`, `selective`) and `run` (the loop over the parts, timing and
writing). The names below are the public interface; import them from here.
"""

from ..forward import Forward, _activation_elements
from ..outputs import FILES as OUTPUTS
from .adversarial import fgsm_flip_rates
from ..config import DEFAULT_EPS, DEFAULT_SIZES, EvalConfig
from .config import DIVERSITY_NETS, EvaluationError
from .comparisons import compare, compare_with_members
from .context import Grid, Model
from .controls import alignment, gauge_check, random_direction
from .diversity import diversity, symmetry_control
from .equal_compute import flops_match, grid_rows
from .ensembles import ensemble_curve, ensemble_scores, member_summary, reliability_rows
from .inputs import load_inputs
from .models import member_metrics, model_metrics, ood_metrics
from .ood import ood_score_rows, ood_scores
from .paths import direct_path, path_scores
from .run import PARTS, evaluate
from .selective import aurc, bootstrap_selective, risk_coverage

__all__ = ["DEFAULT_EPS", "DEFAULT_SIZES", "DIVERSITY_NETS", "OUTPUTS", "PARTS", "EvalConfig", "EvaluationError",
           "Forward", "Grid", "Model", "alignment", "aurc", "bootstrap_selective", "compare", "compare_with_members", "flops_match",
           "gauge_check", "grid_rows", "member_metrics", "model_metrics", "ood_metrics", "random_direction",
           "_activation_elements", "diversity", "direct_path", "ensemble_curve", "ensemble_scores",
           "evaluate", "fgsm_flip_rates", "load_inputs", "member_summary", "ood_score_rows", "ood_scores",
           "path_scores", "reliability_rows", "risk_coverage", "symmetry_control"]
