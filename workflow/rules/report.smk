rule report:
    """Figures and report.md from the evaluation, distillation and sweep metrics."""
    input:
        unpack(inputs_of("report")),
        code=pipeline.stage_code("report"),
    output:
        report(directory("results/{run}/report"), patterns=["{name}.png"], caption="../report/figures.rst",
               category="Figures"),
    params:
        cmd=command_of("report"),
    log:
        "logs/{run}/report.log",
    benchmark:
        "logs/benchmarks/{run}/report.tsv"
    shell:
        "{params.cmd} > {log} 2>&1"
