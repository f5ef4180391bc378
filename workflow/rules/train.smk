rule train:
    """Train the hypernetwork: loss = λ·CE − Ĥ on gauge-fixed generated weights."""
    input:
        unpack(inputs_of("train")),
        code=pipeline.stage_code("train"),
    output:
        **outputs_of("train"),
    params:
        cmd=command_of("train"),
    log:
        "logs/{run}/train.log",
    benchmark:
        "logs/benchmarks/{run}/train.tsv"
    threads: workflow.cores
    resources:
        gpu=gpus("train"),
    shell:
        "OMP_NUM_THREADS={threads} OMP_WAIT_POLICY=PASSIVE {params.cmd} > {log} 2>&1"


rule train_baseline:
    """Train one target net conventionally; the seeds together are the deep ensemble."""
    input:
        unpack(inputs_of("train_baseline")),
        code=pipeline.stage_code("train_baseline"),
    output:
        **outputs_of("train_baseline"),
    params:
        cmd=command_of("train_baseline"),
    log:
        "logs/baselines/seed{seed}.log",
    benchmark:
        "logs/benchmarks/baselines/seed{seed}.tsv"
    # as many threads as the hypernetwork's training: their wall seconds (a secondary column beside the FLOPs)
    # are then measured the same way
    threads: workflow.cores
    resources:
        gpu=gpus("baseline"),
    shell:
        "OMP_NUM_THREADS={threads} OMP_WAIT_POLICY=PASSIVE {params.cmd} > {log} 2>&1"


rule train_snapshot:
    """A snapshot ensemble (cyclic learning rate) at the compute of one baseline net."""
    input:
        unpack(inputs_of("train_snapshot")),
        code=pipeline.stage_code("train_snapshot"),
    output:
        **outputs_of("train_snapshot"),
    params:
        cmd=command_of("train_snapshot"),
    log:
        "logs/baselines/snapshot.log",
    benchmark:
        "logs/benchmarks/baselines/snapshot.tsv"
    threads: workflow.cores
    resources:
        gpu=gpus("baseline"),
    shell:
        "OMP_NUM_THREADS={threads} OMP_WAIT_POLICY=PASSIVE {params.cmd} > {log} 2>&1"


rule noise_ensemble:
    """Gaussian perturbations of the single net, their scale chosen on the validation split."""
    input:
        unpack(inputs_of("noise_ensemble")),
        code=pipeline.stage_code("noise_ensemble"),
    output:
        **outputs_of("noise_ensemble"),
    params:
        cmd=command_of("noise_ensemble"),
    log:
        "logs/baselines/noise.log",
    benchmark:
        "logs/benchmarks/baselines/noise.tsv"
    threads: 1
    resources:
        gpu=gpus("noise"),
    shell:
        "OMP_NUM_THREADS={threads} OMP_WAIT_POLICY=PASSIVE {params.cmd} > {log} 2>&1"


# A plug-in baseline (hyperman/baselines/, registered in hyperman.baseline_registry) whose params section is
# there: one rule each, its command, inputs and outputs from the stage table (workflow/baseline_stages.py).
for _kind in pipeline.plugin_kinds(config):

    rule:
        name:
            _kind
        input:
            unpack(inputs_of(_kind)),
            code=pipeline.stage(config, _kind).code,
        output:
            **outputs_of(_kind),
        params:
            cmd=command_of(_kind),
        log:
            f"logs/baselines/{_kind}.log",
        threads: workflow.cores
        resources:
            gpu=gpus("train"),
        shell:
            "OMP_NUM_THREADS={threads} OMP_WAIT_POLICY=PASSIVE {params.cmd} > {log} 2>&1"
