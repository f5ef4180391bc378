rule sample:
    """Draw N nets from the hypernetwork (stored as latents + the checkpoint's hash)."""
    input:
        unpack(inputs_of("sample")),
        code=pipeline.stage_code("sample"),
    output:
        **outputs_of("sample"),
    params:
        cmd=command_of("sample"),
    log:
        "logs/{run}/sample.log",
    benchmark:
        "logs/benchmarks/{run}/sample.tsv"
    threads: workflow.cores
    resources:
        gpu=gpus("train"),
    shell:
        "OMP_NUM_THREADS={threads} OMP_WAIT_POLICY=PASSIVE {params.cmd} > {log} 2>&1"


rule evaluate:
    """Ensembles, baselines, diversity, symmetry control, paths, OOD and FGSM: the one read of the test set per
    trained configuration. Nothing is chosen from it: settings are chosen on the validation split (report/choice.py)."""
    input:
        unpack(inputs_of("evaluate")),
        code=pipeline.stage_code("evaluate"),
    output:
        # the names come from hyperman/outputs.py; the ensemble curve also goes into `snakemake --report`
        **outputs_of("evaluate", wrap={"ensemble_curve": lambda path: report(path, category="Tables")}),
    params:
        cmd=command_of("evaluate"),
    log:
        "logs/{run}/evaluate.log",
    benchmark:
        "logs/benchmarks/{run}/evaluate.tsv"
    threads: workflow.cores
    resources:
        gpu=gpus("evaluate"),
    shell:
        "OMP_NUM_THREADS={threads} OMP_WAIT_POLICY=PASSIVE {params.cmd} > {log} 2>&1"


rule distill:
    """Distil the hypernetwork ensemble into one target-sized student."""
    input:
        unpack(inputs_of("distill")),
        code=pipeline.stage_code("distill"),
    output:
        **outputs_of("distill"),
    params:
        cmd=command_of("distill"),
    log:
        "logs/{run}/distill.log",
    benchmark:
        "logs/benchmarks/{run}/distill.tsv"
    threads: workflow.cores
    resources:
        gpu=gpus("distill"),
    shell:
        "OMP_NUM_THREADS={threads} OMP_WAIT_POLICY=PASSIVE {params.cmd} > {log} 2>&1"
