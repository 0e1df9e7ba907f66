"""What the benchmark summary scripts share: a headless pyplot, saving a figure, and the
`SCRIPT results.csv summary.md plot.png` command line."""
import sys


def pyplot():
    import matplotlib
    matplotlib.use("Agg")  # no display on the machines that run benchmarks
    import matplotlib.pyplot as plt
    return plt


def save(fig, png_path):
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)


def run(main, doc):
    """Calls main(csv, md, png) from the command line, or exits with the usage in `doc`."""
    if len(sys.argv) != 4:
        sys.exit(doc)
    main(*sys.argv[1:])
