"""Write the chapter notebooks in notebooks/ (stored without outputs). Run after editing a chapter's cells:
``python tools/make_notebooks.py``. Keeping the source here makes notebook diffs reviewable."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent


def notebook(cells: list) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def params_cell(source: str):
    cell = new_code_cell(source)
    cell.metadata["tags"] = ["parameters", "remove-cell"]  # the book shows papermill's injected cell instead
    return cell


def hidden(source: str):
    cell = new_code_cell(source)
    cell.metadata["tags"] = ["remove-input"]
    return cell


def parameters_source(config_cls) -> str:
    lines = ["# Parameters (papermill injects a profile's values below this cell). Defaults: the quick profile."]
    for name, value in config_cls.defaults().items():
        lines.append(f"{name} = {list(value) if isinstance(value, tuple) else value!r}")
    lines.append('mode = "auto"  # auto | recompute | cache_only')
    return "\n".join(lines)


def sat_matrix() -> nbformat.NotebookNode:
    from sat_lib.experiments.sat_matrix import Config

    return notebook([
        new_markdown_cell(
            "# SAT similarity of a model zoo\n\n"
            "Hwang et al. measure how alike two classifiers are by how well adversarial examples transfer "
            "between them. For models $A$, $B$ and the images $X_{AB}$ that both classify correctly, with $x_A$ "
            "the PGD adversarial example of $x$ crafted on $A$:\n\n"
            "$$\\mathrm{SAT}(A,B)=\\log\\Big[\\max\\Big\\{\\varepsilon_s,\\;\\frac{100}{2|X_{AB}|}"
            "\\sum_{x\\in X_{AB}}\\mathbb{I}(A(x_B)\\neq y)+\\mathbb{I}(B(x_A)\\neq y)\\Big\\}\\Big]\\qquad(1)$$\n\n"
            "The paper scores 69 pretrained ImageNet models. No pretrained weights are in reach here, so this "
            "chapter trains a zoo of timm architectures on CIFAR-10 itself (the JPEG copy of CIFAR-10 unless "
            "the official archive is configured: pixel values differ slightly from the original files), attacks "
            "each model once, and evaluates every model once on all models' adversarial examples: $N$ attacks, "
            "not $N^2$."),
        params_cell(parameters_source(Config)),
        new_code_cell(
            "from IPython.display import Markdown, display\n"
            "from sat_lib.analysis import sat as analysis\n"
            "from sat_lib.experiments.sat_matrix import Config, run\n"
            "from sat_lib import plots, report\n"
            "from sat_lib.plots import sat as figures\n\n"
            "plots.use_style()\n"
            "cfg = Config.from_mapping(globals())\n"
            "ds = run(cfg, mode=mode)"),
        new_markdown_cell("## Setting\n\nThe parameters and provenance of the result shown below "
                          "(`xarray.open_dataset` on the file under `data/results/sat-matrix/` shows the same)."),
        hidden("display(report.parameters(ds))\ndisplay(report.provenance(ds))"),
        new_markdown_cell("## The zoo\n\nClean accuracy of every model on the whole test split. Similarity "
                          "scores mean little for models that barely learned, so read the matrix with this beside it."),
        hidden("plots.show(figures.accuracy(ds))"),
        new_markdown_cell("## The SAT matrix (paper Fig. C.1)\n\nRows are the models whose adversarial examples "
                          "are transferred, columns the models evaluated on them; order from an average-linkage "
                          "tree on the SAT distance, white lines between spectral clusters."),
        hidden("clusters = analysis.spectral_clusters(ds['sat'], n_clusters=min(10, ds.sizes['model'] // 2), "
               "seed=cfg.seed)\n"
               "plots.show(figures.sat_heatmap(ds, clusters=clusters))"),
        new_markdown_cell("## Clusters and their keywords (paper Table 3)\n\nSpectral clustering of the SAT "
                          "graph (normalised Laplacian, K-means restarted 100 times, as appendix B), and each "
                          "cluster's top TF-IDF keywords from the architecture cards (components as words, "
                          "models as documents)."),
        hidden("display(analysis.cluster_keywords(ds, clusters))"),
        new_markdown_cell("## The zoo in two dimensions (paper Fig. 1)\n\nt-SNE on the SAT distance, coloured by "
                          "base architecture, marker by spectral cluster."),
        hidden("plots.show(figures.tsne(ds, clusters=clusters, seed=cfg.seed))"),
        new_markdown_cell("## Mean SAT between base-architecture families"),
        hidden("display(analysis.family_means(ds).round(2))"),
        new_markdown_cell("## Stability of the score (paper Table 1)\n\nThe paper's Table 1 reports the std, over "
                          "ten random image sets, of the two-sided rate in percent (no log) between ConvNeXt-T and "
                          "Swin-T. We do the same for the zoo's ConvNeXt-like and Swin-like pair."),
        hidden("display(analysis.stability_table(ds).round(2))\nplots.show(figures.stability(ds))"),
        new_markdown_cell("## The paper's claims beside ours"),
        hidden("display(analysis.claims_table(ds).round(2))"),
        hidden("display(Markdown(analysis.discussion(ds)))"),
    ])


def measures() -> nbformat.NotebookNode:
    from sat_lib.experiments.measures_demo import Config

    return notebook([
        new_markdown_cell(
            "# Measures\n\n"
            "Every similarity and diversity measure the four papers use, as `sat_lib.measures` implements them. "
            "The table is generated from the measure registry: formula, range, the transformations each measure "
            "is declared invariant to, and where it comes from. The test suite checks every declared invariance "
            "on random data; below, the same checks run on real activations of two trained models."),
        params_cell(parameters_source(Config)),
        new_code_cell(
            "from IPython.display import Markdown, display\n"
            "from sat_lib.experiments.measures_demo import Config, run\n"
            "from sat_lib import report\n"
            "from sat_lib.analysis import measures as analysis\n\n"
            "cfg = Config.from_mapping(globals())\n"
            "ds = run(cfg, mode=mode)"),
        new_markdown_cell("## The registry"),
        hidden("display(Markdown(analysis.registry_markdown()))"),
        new_markdown_cell("## Setting"),
        hidden("display(report.parameters(ds))\ndisplay(report.provenance(ds))"),
        new_markdown_cell(
            "## Invariances on real activations\n\n"
            "Penultimate-layer activations $A$, $B$ of two models on the same test images. Each cell is "
            "$m(A, T(B))$ for a transformation $T$ of $B$; the last column is $m(A, A)$, which should be each "
            "measure's maximum. A declared invariance should leave the value of the `none` column unchanged."),
        hidden("display(analysis.invariance_table(ds).round(4))"),
        hidden("display(Markdown(analysis.invariance_summary(ds)))"),
        new_markdown_cell("## Prediction-based measures between the two models"),
        hidden("display(analysis.functional_table(ds).round(4))"),
    ])


CHAPTERS = {"sat_matrix": sat_matrix, "measures": measures}

if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    for name, make in CHAPTERS.items():
        path = ROOT / "notebooks" / f"{name}.ipynb"
        nbformat.write(make(), path)
        print(f"wrote {path}")
