rule sample:
    """Draw N nets from the hypernetwork (stored as latents + the checkpoint's hash)."""
    input:
        unpack(inputs_of("sample")),
        code=pipeline.stage_code("sample"),
    output:
        samples="results/{run}/samples.pt",
        throughput="results/{run}/samples.json",
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
        "OMP_NUM_THREADS={threads} {params.cmd} > {log} 2>&1"


rule evaluate:
    """Ensembles, baselines, diversity, symmetry control, paths, OOD and FGSM on the test set."""
    input:
        unpack(inputs_of("evaluate")),
        code=pipeline.stage_code("evaluate"),
    output:
        metrics="results/{run}/evaluate/metrics.json",
        ensemble_curve=report("results/{run}/evaluate/ensemble_curve.csv", category="Tables"),
        paths="results/{run}/evaluate/paths.csv",
        adversarial="results/{run}/evaluate/adversarial.csv",
        member_accuracy="results/{run}/evaluate/member_accuracy.csv",
        reliability="results/{run}/evaluate/reliability.csv",
        ood_scores="results/{run}/evaluate/ood_scores.csv",
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
        "OMP_NUM_THREADS={threads} {params.cmd} > {log} 2>&1"


rule distill:
    """Distil the hypernetwork ensemble into one target-sized student."""
    input:
        unpack(inputs_of("distill")),
        code=pipeline.stage_code("distill"),
    output:
        student="results/{run}/distill/student.pt",
        metrics="results/{run}/distill/distill_metrics.json",
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
        "OMP_NUM_THREADS={threads} {params.cmd} > {log} 2>&1"
