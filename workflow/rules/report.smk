rule report:
    """Figures and report.md from the evaluation, distillation and sweep metrics."""
    input:
        unpack(inputs_of("report")),
        code=pipeline.stage_code("report"),
    output:
        **outputs_of("report", wrap={"report": lambda path: report(path, patterns=["{name}.png"],
                                                                   caption="../report/figures.rst",
                                                                   category="Figures")}),
    params:
        cmd=command_of("report"),
    log:
        "logs/{run}/report.log",
    benchmark:
        "logs/benchmarks/{run}/report.tsv"
    shell:
        "{params.cmd} > {log} 2>&1"


rule seeds_report:
    """The seeds study's table: every replicate's evaluation → mean ± sd and seed-aware intervals (`make seeds`)."""
    input:
        unpack(inputs_of("seeds_report")),
        code=pipeline.stage_code("seeds_report"),
    output:
        **outputs_of("seeds_report"),
    params:
        cmd=command_of("seeds_report"),
    log:
        "logs/seeds/report.log",
    benchmark:
        "logs/benchmarks/seeds/report.tsv"
    shell:
        "{params.cmd} > {log} 2>&1"
