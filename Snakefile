# hyperman's study: prepare → train / train-baseline → sample → evaluate → distill → report
# (`make seeds` adds the replicates' train / train-baseline → sample → evaluate → seeds-report).
# `snakemake --cores all` runs everything params.yaml describes; the stages
# themselves (commands, inputs, outputs, params) are described once, in
# workflow/pipeline.py, which also generates dvc.yaml.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))
sys.path.insert(0, str(Path(workflow.basedir)))
import pipeline
from hyperman.config.workflow import ParamsError, validate

configfile: "params.yaml"

try:
    validate(config)
    pipeline.seed_runs(config)  # the seeds study's cross-section rule (disjoint baseline seeds)
except ParamsError as error:
    raise WorkflowError(str(error)) from None

report: "workflow/report/workflow.rst"

include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        [path.rstrip("/") for s in pipeline.all_stages(config) for path in s.outputs.values()],
    default_target: True
