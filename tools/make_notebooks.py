"""Write the chapter notebooks in notebooks/ (stored without outputs). Run after editing a chapter's cells:
``python tools/make_notebooks.py``. Keeping the source here makes notebook diffs reviewable."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent


def notebook(cells: list) -> nbformat.NotebookNode:
    for i, cell in enumerate(cells):
        cell.id = f"cell-{i:02d}"  # stable ids: regenerating a notebook changes only what was edited
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def params_cell(source: str):
    cell = new_code_cell(source)
    cell.metadata["tags"] = ["parameters", "remove-cell"]  # the book shows papermill's injected cell instead
    return cell


def hidden(source: str, extra_tags: list[str] | None = None):
    cell = new_code_cell(source)
    cell.metadata["tags"] = ["remove-input", *(extra_tags or [])]
    return cell


def parameters_source(config_cls) -> str:
    lines = ["# Parameters (papermill injects a profile's values below this cell). Defaults: the quick profile."]
    for name, value in config_cls.defaults().items():
        lines.append(f"{name} = {list(value) if isinstance(value, tuple) else value!r}")
    lines.append('mode = "auto"  # auto | recompute | cache_only')
    return "\n".join(lines)


VERDICT_RULE = ("One rule for every row (`sat_lib.claims.verdict`): a value the paper reports *agrees* when it lies "
                "in our 95 % bootstrap interval; a direction agrees when the whole interval has its sign, and is "
                "*inconclusive* when the interval contains 0; a band the paper says a quantity stays inside "
                "agrees when the whole interval lies inside it, disagrees when it lies wholly outside, and is "
                "inconclusive when it straddles an edge. The column `resampled` names the unit of the "
                "bootstrap; `key` names the paper claim (the status page collects the verdicts by it).")


def not_reproduced(chapter: str) -> list:
    return [new_markdown_cell("## Not reproduced here"),
            hidden("from sat_lib.claims import status\n"
                   f"display(Markdown(status.not_reproduced_markdown({chapter!r})))")]


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
            "not $N^2$.\n\n"
            "**Where this was computed.** The committed result is the `quick` profile: the `cifar-cpu` zoo "
            "(24 architectures of the paper's five families, narrowed and given 32-pixel stems so that each "
            "trains in minutes), trained and attacked on a 2-core CPU (one process: the `auto` executor's choice on "
            "a machine this small). The `paper` profile "
            "(the 35-model `cifar` zoo, 5 000 images) is sized for GPUs or a cluster and **has not been run "
            "here**; `sat-companion run sat-matrix --profile paper --scheduler tcp://…` runs it on a user's "
            "Dask cluster, model by model."),
        params_cell(parameters_source(Config)),
        new_code_cell(
            "from IPython.display import Markdown, display\n"
            "from sat_lib.analysis import sat_matrix as analysis\n"
            "from sat_lib.experiments.sat_matrix import Config, run\n"
            "from sat_lib import plots, report\n"
            "from sat_lib.plots import sat_matrix as figures\n\n"
            "plots.use_style()\nreport.use_display()\n"
            "cfg = Config.from_mapping(globals())\n"
            "ds = run(cfg, mode=mode)"),
        new_markdown_cell("## Setting\n\nThe parameters and provenance of the result shown below "
                          "(`xarray.open_dataset` on the file under `data/results/sat-matrix/` shows the same)."),
        hidden("display(report.parameters(ds))\ndisplay(report.provenance(ds))"),
        new_markdown_cell("## The zoo\n\nClean accuracy of every model on the whole test split. Similarity "
                          "scores mean little for models that barely learned, so read the matrix with this beside it. "
                          "The paper kept its models within 79–83 % top-1 so that accuracy would not drive the "
                          "score; the band of this zoo is below, and the last figure of this section asks whether "
                          "accuracy drives SAT here."),
        hidden("plots.show(figures.accuracy(ds))"),
        hidden("display(analysis.accuracy_band(ds).round(1))"),
        new_markdown_cell("### What each model cost\n\nEpochs (CNN-style models train the chapter's `epochs`, "
                          "attention and MLP models their zoo entry's `epoch_scale` times as many), the precision "
                          "and memory layout measured fastest for the model (`bf16` = bfloat16 autocast, `+cl` = "
                          "channels-last), and seconds of training and of the 50-step PGD (crafted only on the images the model "
                          "classifies correctly: Eq. 1 uses no other)."),
        hidden("display(analysis.training_table(ds).round(2))"),
        new_markdown_cell("The whole chapter's computation, model by model as each was made, on the machine named "
                          "in the provenance above. "
                          "Where a model was first made while the machine also ran other work, its time was measured again by "
                          "redoing that work bit for bit on a quiet machine (`sat-companion retime`, see the README)."),
        hidden("display(analysis.cost_summary(ds).round(1))"),
        new_markdown_cell("### Does accuracy drive the score?\n\nEvery pair's SAT against the pair's mean "
                          "accuracy. Spearman's ρ with a 95 % bootstrap interval over *models* (pairs share "
                          "models, so models are resampled and the pairs among them kept); the verdict is read "
                          "from the interval."),
        hidden("plots.show(figures.sat_vs_accuracy(ds))\ndisplay(analysis.accuracy_effect(ds, seed=cfg.seed).round(3))"),
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
        new_markdown_cell("## The paper's claims beside ours\n\n" + VERDICT_RULE),
        hidden("table = analysis.claims_table(ds)\ndisplay(table)"),
        hidden("display(Markdown(analysis.discussion(ds, table)))"),
        *not_reproduced("sat-matrix"),
    ])


def sat_components() -> nbformat.NotebookNode:
    from sat_lib.analysis.sat_components import R2_RESAMPLES
    from sat_lib.experiments.sat_components import Config

    return notebook([
        new_markdown_cell(
            "# What makes two models similar\n\n"
            "Hwang et al. (Sec. 4.1) describe every model by 13 architectural components (Table 2: base "
            "architecture, stem layer, input resolution, normalization, activation, attention, depth-wise and "
            "group convolutions, …), turn every pair into the vector of its component differences, and fit a "
            "gradient-boosting regressor from those differences to the pair's SAT (appendix: 500 stages, depth 12, "
            "minimum 4 samples, learning rate 0.02). The permutation importance of each component (Fig. 3) puts the "
            "**base architecture first**, the stem layer and input resolution about as high as normalization, "
            "activation and attention, and depth-wise and group convolutions last. The spectral features of the "
            "SAT graph — the leading eigenvectors of its normalised Laplacian, which the clustering of Table 3 cuts — "
            "show a block pattern by cluster (Fig. 4a, B.1).\n\n"
            "Here the same analysis runs on the `sat-matrix` chapter's zoo: scikit-learn's "
            "`GradientBoostingRegressor` and `permutation_importance`, with two additions a reader needs — a "
            "**held-out R²** (models held out, so pairs that touch them are never fitted on) and **intervals over "
            "models** (the regressor refitted on bootstrap resamples of the zoo's models). **Where this was "
            "computed:** from the `quick` zoo result, on a 2-core CPU; the `paper` profile has not been run here."),
        params_cell(parameters_source(Config)),
        new_code_cell(
            "import pandas as pd\n"
            "from IPython.display import Markdown, display\n"
            "from sat_lib.analysis import sat_components as analysis\n"
            "from sat_lib.experiments import sat_matrix\n"
            "from sat_lib.experiments.sat_components import Config, matrix_config, run\n"
            "from sat_lib import plots, report\n"
            "from sat_lib.plots import sat_components as figures\n\n"
            "plots.use_style()\nreport.use_display()\n"
            "cfg = Config.from_mapping(globals())\n"
            "ds = run(cfg, mode=mode)"),
        new_markdown_cell("## Setting\n\nThis chapter's parameters and provenance, then those of the zoo result "
                          "it reads."),
        hidden("display(report.parameters(ds))\ndisplay(report.provenance(ds))\n"
               "display(report.provenance(sat_matrix.run(matrix_config(cfg), mode='cache_only')))"),
        new_markdown_cell("## The zoo's architecture cards (Tables 2, A.2, A.3)\n\nThe 13 components of every "
                          "model as built here, in the paper's vocabulary (`sat_lib/models/cards/`)."),
        hidden("with pd.option_context('display.max_columns', None):\n    display(analysis.cards_table(ds))"),
        new_markdown_cell("## Fig. 3: component importance\n\nPermutation importance of each component's "
                          "difference for the regressor fitted on all pairs (as the paper), with a 95 % interval "
                          "from refits on bootstrap resamples of the models. A component that takes one value "
                          "across the zoo (hollow bar) never differs between two models and cannot matter here."),
        hidden("r2 = analysis.held_out_r2_estimates(ds, cfg.gbr, seed=cfg.seed)  # about a minute: refits\n"
               "plots.show(figures.importance(ds, r2['refit']))\n"
               "display(analysis.importance_table(ds).drop(columns='importance'))"),
        new_markdown_cell("### Does the regression mean anything?\n\nEvery pair's SAT against the SAT predicted "
                          "for it by a regressor that never saw either model's other pairs (5 folds of models), and "
                          "the R² of those predictions with two 95 % intervals that resample the *models*, as the "
                          "importances' do. The first redoes the whole 5-fold fit on each resample (a model drawn "
                          "twice stays in one fold): it covers the fit's own variability, but each refit costs five "
                          "fits of the appendix's regressor (500 stages, depth 12), so it uses only "
                          f"{R2_RESAMPLES} "
                          "resamples (about a minute on a 2-core CPU; the interval's ends are rough), and a resample "
                          "holds only ~63 % of the models, so its fits see fewer architectures and its R² runs low "
                          "(the interval need not contain the full-zoo value). The second keeps the stored held-out "
                          "predictions and recomputes R² on 2 000 resamples of the models: how precisely these "
                          "predictions' skill is measured on this zoo."),
        hidden("display(analysis.held_out_table(r2))\nplots.show(figures.held_out(ds, r2['refit']))"),
        new_markdown_cell("## Fig. 4a and B.1: spectral features\n\nDistances between the models' "
                          "`n_spectral` spectral features, rows and columns sorted by spectral cluster (white "
                          "lines), families along the edges."),
        hidden("plots.show(figures.spectral_distances(ds))"),
        new_markdown_cell("## The paper's claims beside ours\n\n" + VERDICT_RULE + " Fig. 3's bar heights are not "
                          "in the paper's text; its claims are the orderings the text states."),
        hidden("table = analysis.claims_table(ds)\ndisplay(table)"),
        hidden("display(Markdown(analysis.discussion(ds, table, r2)))"),
        *not_reproduced("sat-components"),
    ])


def sat_training() -> nbformat.NotebookNode:
    from sat_lib.experiments.sat_training import Config

    return notebook([
        new_markdown_cell(
            "# Training procedure against architecture\n\n"
            "Is a model similar to a copy of itself trained differently? Hwang et al. (Sec. 4.2, Table 4) retrain "
            "ResNet-50 and ViT-S with other **random initializations**, other **optimisation hyper-parameters** "
            "(learning rate and weight decay drawn from factors of the base values, appendix D) and other "
            "**training regimes** (augmentations, kinds of supervision), and find SAT within each group far above "
            "SAT between different architectures (2.73): seeds and hyper-parameters barely matter (≈ 4.2), "
            "regimes matter more (3.27 / 3.44) but less than architecture.\n\n"
            "Here each architecture of the `archs` parameter is retrained `n_per_kind` times per kind "
            "(`sat_lib.variants`: the regimes are those the training engine can express — no Mixup, CutMix or "
            "self-supervision), attacked on the same images with the same PGD as the zoo of the `sat-matrix` "
            "chapter, and every pair is scored with Eq. 1. The model trained with the zoo's own settings *is* the "
            "zoo's model (same weights, same attack). Every variant has its own seed, so a hyper-parameter or "
            "regime group also differs by initialization, as independently trained models do.\n\n"
            "**Where this was computed.** The committed result is the `quick` profile, on a 2-core CPU: a small "
            "CIFAR-10 ResNet stands in for ResNet-50 and LeViT for ViT-S (a pure ViT of the zoo trains several times "
            "slower here: the `sat-matrix` chapter's table of what each model cost). The `paper` profile has not "
            "been run here."),
        params_cell(parameters_source(Config)),
        new_code_cell(
            "from IPython.display import Markdown, display\n"
            "from sat_lib.analysis import sat_training as analysis\n"
            "from sat_lib.experiments import sat_matrix\n"
            "from sat_lib.experiments.sat_training import Config, matrix_config, run\n"
            "from sat_lib import plots, report\n"
            "from sat_lib.plots import sat_training as figures\n\n"
            "plots.use_style()\nreport.use_display()\n"
            "cfg = Config.from_mapping(globals())\n"
            "ds = run(cfg, mode=mode)\n"
            "zoo = sat_matrix.run(matrix_config(cfg), mode=mode)  # the between-architecture baseline"),
        new_markdown_cell("## Setting\n\nThe parameters and provenance of this chapter's result, then of the "
                          "`sat-matrix` result it is compared with."),
        hidden("display(report.parameters(ds))\ndisplay(report.provenance(ds))\ndisplay(report.provenance(zoo))"),
        new_markdown_cell("## The retrained models\n\nAccuracy first: a similarity between models that barely "
                          "learned says little. Every variant, what differs from the zoo's training, its test "
                          "accuracy on the whole test split, and its cost."),
        hidden("plots.show(figures.accuracy(ds))"),
        hidden("display(analysis.accuracy_table(ds).round(1))"),
        new_markdown_cell("The chapter's own computation (the zoo's models it reuses count in the `sat-matrix` "
                          "chapter), model by model as each was made, on the machine named in *Setting*. "
                          "Where a model was first made while the machine also ran other work, its time was measured again by "
                          "redoing that work bit for bit on a quiet machine (`sat-companion retime`, see the README)."),
        hidden("display(analysis.cost_summary(ds).round(1))"),
        new_markdown_cell("## Table 4: SAT within one architecture\n\nMean SAT over the pairs within each group, "
                          "with a 95 % bootstrap interval over the group's *models* (pairs share models, so models "
                          "are resampled and the pairs among them kept); the last row is the zoo's mean between "
                          "different architectures, with models of the zoo resampled."),
        hidden("display(analysis.table4(ds, zoo, seed=cfg.seed).set_index(['architecture', 'diversity by']))"),
        new_markdown_cell("## Fig. 4b: SAT by kind of difference\n\nEvery pair (dots), our mean with its interval "
                          "(circle and bar) and the paper's Table 4 value (black diamond)."),
        hidden("plots.show(figures.by_kind(ds, zoo, seed=cfg.seed))"),
        new_markdown_cell("## The paper's claims beside ours\n\n" + VERDICT_RULE + " A difference between a group "
                          "and the zoo combines independent resamples of the group's models and the zoo's models."),
        hidden("table = analysis.claims_table(ds, zoo, seed=cfg.seed)\ndisplay(table)"),
        hidden("display(Markdown(analysis.discussion(ds, zoo, table)))"),
        *not_reproduced("sat-training"),
    ])


def sat_attacks() -> nbformat.NotebookNode:
    from sat_lib.experiments.sat_attacks import Config

    return notebook([
        new_markdown_cell(
            "# Does the attack matter? Attacks, new models and decision regions\n\n"
            "Three questions Hwang et al. answer in their Table 1 and appendix G, asked of this book's zoo:\n\n"
            "1. **Does the attack change the picture?** SAT from 50-step PGD against SAT from AutoAttack on 8 "
            "models: Pearson 0.98 (Fig. G.1a); against how Patch-Fool examples crafted on ViT-S (one patch of the "
            "image replaced, steered by the Transformer's attention) transfer to the 68 other models: 0.91 "
            "(Fig. G.1b).\n"
            "2. **Can a new model be placed without attacking the zoo again?** Attack only the new model and score "
            "it by how its examples fool the stored models (*one-sided* SAT): it correlates with the two-sided "
            "score at 0.82 (Fig. G.2), and a second training of a zoo architecture lands in its sibling's "
            "cluster (2 of 2 models).\n"
            "3. **Is SAT more stable than decision-boundary similarity?** Somepalli et al. compare models by how "
            "often they predict the same class on planes through triplets of images; at equal compute its spread "
            "over random triplet sets is far larger than SAT's over random image sets (Table 1).\n\n"
            "Everything reuses the stores of two chapters: the zoo, its PGD examples and its SAT (`sat-matrix`), and "
            "the retrained ResNet and LeViT models with their PGD examples (`sat-training`), which play the new "
            "models here. New work: AutoAttack on the 8 models (its first two attacks, APGD-CE then APGD-T on the "
            "images APGD-CE leaves correct, `sat_lib.apgd`, checked against `torchattacks` in the test suite), "
            "evaluations of the new models against the zoo both ways, and the decision-region label maps. The "
            "Patch-Fool section trains its models itself (the zoo's recipe, the same weights cache) and is stored "
            "as its own result (`sat_lib.experiments.sat_patch`).\n\n"
            "**Where this was computed:** the `quick` profile on a 2-core CPU (the machine of each result is named "
            "in its provenance); the `paper` profile has not been run here."),
        params_cell(parameters_source(Config)),
        new_code_cell(
            "from IPython.display import Markdown, display\n"
            "from sat_lib.analysis import sat_attacks as analysis\n"
            "from sat_lib.experiments import sat_matrix, sat_training\n"
            "from sat_lib.analysis import sat_patch as patch_analysis\n"
            "from sat_lib.experiments.sat_attacks import (Config, matrix_config, patch_result, patch_skip_reason, "
            "run,\n"
            "                                             training_config)\n"
            "from sat_lib import plots, report\n"
            "from sat_lib.plots import sat_attacks as figures\n\n"
            "plots.use_style()\nreport.use_display()\n"
            "cfg = Config.from_mapping(globals())\n"
            "ds = run(cfg, mode=mode)\n"
            "zoo = sat_matrix.run(matrix_config(cfg), mode='cache_only')\n"
            "pds = patch_result(cfg, mode='cache_only')"),
        new_markdown_cell("## Setting\n\nThis chapter's parameters and provenance, then those of the two results "
                          "it reads."),
        hidden("display(report.parameters(ds))\ndisplay(report.provenance(ds))\ndisplay(report.provenance(zoo))\n"
               "display(report.provenance(sat_training.run(training_config(cfg), mode='cache_only')))\n"
               "if pds is not None:\n"
               "    display(report.provenance(pds))"),
        new_markdown_cell("## Fig. G.1a: PGD against AutoAttack\n\nFirst, how strong each attack is on the model "
                          "it was crafted on (share of the model's correctly classified images it fools) and what it "
                          "cost here."),
        hidden("display(analysis.white_box(ds, zoo).round(1))"),
        new_markdown_cell("Every pair of the 8 models: SAT by AutoAttack against SAT by PGD, least-squares line with "
                          "its 90 % band as the paper draws it. Correlations carry 95 % intervals over models (pairs "
                          "share models); p treats pairs as independent, as the paper's does. The figure's title "
                          "prints the table's Pearson r, with as many decimals as it takes to show on which side of "
                          "each end of the interval the paper's value lies."),
        hidden("g1 = analysis.attack_estimates(ds, seed=cfg.seed)\n"
               "plots.show(figures.pgd_vs_autoattack(ds, g1['pearson']))\n"
               "display(analysis.attack_table(ds, estimates=g1))"),
        new_markdown_cell("## Fig. G.1b: PGD against Patch-Fool\n\n"
                          "Patch-Fool (Fu et al., 2022; `sat_lib.patch_fool`) attacks a Vision Transformer through "
                          "one patch: the patch that receives the most attention (averaged over heads and queries at "
                          "a third of the depth) is replaced outright — no norm bound — by pixels that Adam tunes "
                          "for `patch_steps` steps (the authors: 250) to raise the cross-entropy and the attention every token pays to that "
                          "patch (with the authors' weighting and gradient projection). The paper attacks ViT-S "
                          "this way and correlates how the examples transfer to its 68 other models with SAT by "
                          "PGD. Here the source is the zoo's plain ViT and the targets are `patch_targets`; the "
                          "section trains its models itself with the zoo's recipe (its provenance is in *Setting*) "
                          "and scores PGD both ways among them, so both attacks act on the same weights. The "
                          "source against its own examples first:"),
        hidden("if pds is None:\n"
               "    display(Markdown(f'*This section is skipped: {patch_skip_reason(cfg)}.*'))\n"
               "else:\n"
               "    display(patch_analysis.white_box(pds).round(1))\n"
               "    plots.show(figures.patch_examples(pds))"),
        new_markdown_cell("Every target: one-sided SAT of the Patch-Fool examples (log of the share of them that "
                          "fool it, on images both classify correctly) against its SAT by PGD with the source. "
                          "Correlations carry 95 % intervals over target models (the source is fixed, as the "
                          "paper's ViT-S); p treats targets as independent, as the paper's does."),
        hidden("if pds is not None:\n"
               "    g1b = patch_analysis.patch_estimates(pds, seed=cfg.seed)\n"
               "    plots.show(figures.pgd_vs_patchfool(pds, g1b['pearson']))\n"
               "    display(patch_analysis.patch_table(pds, estimates=g1b))\n"
               "    display(patch_analysis.patch_frame(pds).round(2))\n"
               "    display(Markdown(patch_analysis.summary(pds, g1b)))\n"
               "    display(Markdown('What the section cost on the machine in its provenance. Training and PGD are "
               "the zoo\\'s own work (`sat-matrix` does both for these models); a run that finds the zoo\\'s weights "
               "and examples in its cache does only Patch-Fool and the evaluations:'))\n"
               "    display(patch_analysis.cost(pds).round(1))"),
        new_markdown_cell("### The same recipe, trained again\n\nThe section's models were trained again from "
                          "the zoo's recipe and seed — on the machine its provenance names, which may differ from "
                          "the one that trained the stored zoo (*Setting*). Where both exist: accuracy, and the "
                          "source's SAT by PGD with each model, stored and here, with the Pearson r of the two and "
                          "the mean accuracy difference over models (95 % intervals over models)."),
        hidden("if pds is not None:\n"
               "    again = patch_analysis.retrained(pds, zoo, seed=cfg.seed)\n"
               "    display(again.round(2))\n"
               "    if len(again):\n"
               "        display(Markdown(patch_analysis.retrained_summary(again, pds, zoo)))"),
        new_markdown_cell("## Fig. G.2: one-sided against two-sided SAT\n\nOne-sided SAT of (A, B) uses only A's "
                          "examples on B — the score a new model A gets when only A is attacked. Left: every ordered "
                          "pair of the zoo (from the stored transfers); right: every (new model, zoo model) pair, "
                          "where the new models are the retrained copies of `sat-training`. The paper reports "
                          "Pearson's r; the table adds the rank correlation (Spearman: Pearson of ranks), which does "
                          "not lean on the few most or least similar pairs, and the mean one-sided − two-sided "
                          "difference (log %), which says whether the approximation is biased. All with 95 % "
                          "intervals: models resampled for the zoo's pairs (pairs share models), new models for "
                          "the (new, zoo) pairs. The panels' titles print the table's Pearson r."),
        hidden("g2 = {kind: analysis.sided_estimates(ds, zoo, seed=cfg.seed, kind=kind)\n"
               "      for kind in analysis.SIDED_STATS}\n"
               "plots.show(figures.one_vs_two_sided(ds, zoo, g2['pearson']))\n"
               "display(analysis.sided_table(ds, zoo, estimates=g2))"),
        new_markdown_cell("## A new model's cluster (appendix G)\n\nThe zoo's SAT graph is cut into `n_clusters` "
                          "spectral clusters (as `sat-matrix`, appendix B). Each new model goes to the cluster whose "
                          "members it is most similar to on average — by one-sided SAT (the approximation) and by "
                          "two-sided SAT (the exact score). It should land where its sibling, the zoo model of the same "
                          "architecture, is. Rates carry 95 % intervals over new models."),
        hidden("assigned = analysis.assignment(ds, zoo, cfg.n_clusters, seed=cfg.seed)\n"
               "display(analysis.assignment_table(assigned, seed=cfg.seed))"),
        new_markdown_cell("Every new model:"),
        hidden("display(assigned.round(2))"),
        new_markdown_cell("## Table 1: SAT against decision-region similarity\n\nThe zoo's stability pair (the "
                          "paper's ConvNeXt-T and Swin-T by their counterparts here). Decision-region similarity: the "
                          "share of grid points (`resolution`² per plane, the paper's 2 500) where both models predict "
                          "the same class, on planes through triplets of test images of three different classes "
                          "(`sat_lib.boundary`), in percent; its std over `triplet_repeats` random triplet sets drawn "
                          "from `triplet_pool` labelled planes. SAT's std over random image sets is the `sat-matrix` "
                          "stability study's (percent, no log, as the paper's table)."),
        hidden("display(analysis.boundary_table(ds).round(2))"),
        new_markdown_cell("### What it cost\n\nThe chapter's own computation on the machine named in *Setting* (the "
                          "models, their PGD and the sat-training copies count in the chapters that made them)."),
        hidden("display(analysis.cost_summary(ds).round(1))"),
        new_markdown_cell("At equal compute, by the paper's count (SAT on n images: n × (PGD steps + 1) × 2 "
                          "inferences; a decision-region score on t triplets: t × resolution² × 2):"),
        hidden("display(analysis.equal_compute(ds, zoo).round(2))\nplots.show(figures.stability(ds, zoo))"),
        new_markdown_cell("## The paper's claims beside ours\n\n" + VERDICT_RULE + " A value row prints ours with "
                          "as many decimals (two to four) as it takes for neither end of the interval to print as the "
                          "paper's value, so the side of each end on which the paper's value lies — what decides the "
                          "verdict — is visible."),
        hidden("table = analysis.claims_table(ds, zoo, cfg, seed=cfg.seed, patch=pds)\ndisplay(table)"),
        hidden("display(Markdown(analysis.discussion(ds, zoo, table, g2)))"),
        *not_reproduced("sat-attacks"),
    ])


def sat_ensembles() -> nbformat.NotebookNode:
    from sat_lib.experiments.sat_ensembles import Config

    return notebook([
        new_markdown_cell(
            "# Diversity pays: SAT and ensembles\n\n"
            "Hwang et al.'s practical claim (Sec. 5.1): less similar models make better ensembles. They average the "
            "logits of two models for all 2 346 pairs of their 69 ImageNet models and score the ensemble by its "
            "**error reduction rate**\n\n"
            "$$\\mathrm{ERR}(M) = 1 - \\frac{\\mathrm{Err}_{ens}(M)}{\\frac{1}{|M|}\\sum_{m\\in M}"
            "\\mathrm{Err}(m)},$$\n\n"
            "finding a Pearson correlation of −0.31 between a pair's SAT and its ERR (Fig. 5); ensembles drawn "
            "from more of the SAT graph's clusters reduce more error and leave fewer samples that every member "
            "gets wrong (Fig. 6, E.1); and ensembles of different architectures beat ensembles of one "
            "architecture trained with other seeds, hyper-parameters or regimes (Fig. 7).\n\n"
            "Nothing is trained here: the zoo's models (chapter `sat-matrix`) and the retrained copies (chapter "
            "`sat-training`) stored their logits on the whole test split, and every ensemble is scored from "
            "them. **Where this was computed:** from the `quick` results of those chapters, on a 2-core CPU (their "
            "provenance is below); the `paper` profile has not been run here."),
        params_cell(parameters_source(Config)),
        new_code_cell(
            "from IPython.display import Markdown, display\n"
            "from sat_lib.analysis import sat_ensembles as analysis\n"
            "from sat_lib.experiments import sat_matrix, sat_training\n"
            "from sat_lib.experiments.sat_ensembles import Config, fig6, matrix_config, run, training_config\n"
            "from sat_lib import plots, report\n"
            "from sat_lib.plots import sat_ensembles as figures\n\n"
            "plots.use_style()\nreport.use_display()\n"
            "cfg = Config.from_mapping(globals())\n"
            "ds = run(cfg, mode=mode)\n"
            "f6 = fig6(cfg, ds)  # Fig. 6's scores: stored, or rescored from the zoo's stored logits"),
        new_markdown_cell("## Setting\n\nThis chapter's parameters and provenance, then those of the two results "
                          "it reads."),
        hidden("display(report.parameters(ds))\ndisplay(report.provenance(ds))\n"
               "display(report.provenance(sat_matrix.run(matrix_config(cfg), mode='cache_only')))\n"
               "display(report.provenance(sat_training.run(training_config(cfg), mode='cache_only')))"),
        new_markdown_cell("## The members\n\nEnsembles inherit their members' accuracy: the zoo's models span the "
                          "band below (the paper's 79–83 %), which is why Fig. 5 is also read with accuracy "
                          "partialled out."),
        hidden("display(ds['accuracy'].to_dataframe().assign(accuracy=lambda d: 100 * d['accuracy'])"
               "['accuracy'].describe().to_frame('zoo accuracy (%)').T.round(1))"),
        new_markdown_cell("## Fig. 5: SAT against error reduction\n\nEvery pair of the zoo (logit averaging). "
                          "The line is a least-squares fit with its 90 % band, as the paper draws it. Pearson's r "
                          "with its p-value (which treats pairs as independent, as the paper's does) and a 95 % "
                          "interval that resamples *models* — pairs share models, so models are drawn with "
                          "replacement and the pairs among them kept. The figure's title prints the table's r."),
        hidden("fig5 = analysis.fig5_estimates(ds, seed=cfg.seed)\n"
               "plots.show(figures.sat_vs_err(ds, fig5['Pearson r(SAT, ERR)']))\n"
               "display(analysis.fig5_table(ds, estimates=fig5))"),
        new_markdown_cell("## Fig. 6 and E.1: ensembles from k clusters\n\nThe zoo's SAT graph is cut into "
                          "`n_clusters` spectral clusters (the `sat-matrix` chapter's method, appendix B; its Table 3 cuts "
                          "the same graph into more clusters — the members of these are listed below); an N-ensemble "
                          "from k clusters is a set of N different models whose members come from exactly k "
                          "clusters. A cell (N, k) with at most `n_draws` distinct ensembles is **enumerated**: each "
                          "of them is scored once. A larger cell is sampled: `n_draws` draws, each uniform over the "
                          "cell's distinct ensembles, so both kinds of cell estimate the same thing, the mean over "
                          "the cell's ensembles. Means with 95 % intervals that resample the cell's ensembles (they "
                          "share models, so an interval says how much the mean depends on which of this zoo's "
                          "ensembles are averaged, not how another zoo would behave). Where the clusters' sizes allow "
                          "a single ensemble there is nothing to resample, and no interval: one ensemble is one "
                          "observation however often it is drawn, and an interval over its test images would say how "
                          "well that one ensemble is measured, not how ensembles from one cluster behave."),
        hidden("display(analysis.cluster_members(ds))"),
        hidden("display(Markdown(f\"Fig. 6's scores are {f6.attrs['source']}. Distinct ensembles of each cell, and "
               "how many were scored:\"))\ndisplay(analysis.fig6_counts(f6))"),
        hidden("plots.show(figures.by_clusters(f6))"),
        new_markdown_cell("Mean ERR [95 % CI over the cell's ensembles]:"),
        hidden("display(analysis.fig6_table(f6, 'err', seed=cfg.seed))"),
        new_markdown_cell("Mean share of test samples that every member gets wrong, percent (Fig. 6b):"),
        hidden("display(analysis.fig6_table(f6, 'all_wrong', seed=cfg.seed))"),
        new_markdown_cell("## Fig. 7: training diversity against architecture diversity\n\nN-ensembles of one "
                          "architecture's retrained copies — all subsets of a group when there are few — against "
                          "N-ensembles of different architectures, one from each of N clusters of the zoo (the "
                          "paper's yellow lines, N = k)."),
        hidden("plots.show(figures.by_training(ds))"),
        new_markdown_cell("## The paper's claims beside ours\n\n" + VERDICT_RULE),
        hidden("table = analysis.claims_table(ds, seed=cfg.seed, fig6=f6)\ndisplay(table)"),
        hidden("display(Markdown(analysis.discussion(ds, table, f6)))"),
        *not_reproduced("sat-ensembles"),
    ])


def sat_distillation() -> nbformat.NotebookNode:
    from sat_lib.experiments.sat_distillation import Config

    return notebook([
        new_markdown_cell(
            "# Diversity pays: SAT and distillation\n\n"
            "Hwang et al. (Sec. 5.2) train 25 ViT-Ti students, each distilled from one teacher of their zoo with "
            "DeiT's *hard* distillation, and relate the student's accuracy to the SAT of its teacher and the "
            "student architecture (they use DeiT-S, since DeiT-Ti is much weaker than the teachers). Over all "
            "teachers the correlation is weak (Pearson −0.32, p = 0.12, Fig. 8a); among teachers that are not "
            "Transformers it is clearly negative (−0.51, p = 0.030, Fig. 8c: *a dissimilar teacher distils "
            "better*), and among Transformer teachers the text reads it the other way (*a similar teacher is "
            "better*, printed as −0.70, p = 0.078, Fig. 8b). Teacher accuracy, within their narrow 79.5–82.5 % "
            "band, does not matter (r = 0.049, Fig. F.1).\n\n"
            "**Here.** The student is one architecture of the zoo (`student`), trained with the zoo's own recipe "
            "and epochs once per teacher; its loss is half cross-entropy on the labels (with the zoo's label "
            "smoothing) and half cross-entropy on the teacher's argmax of the *same augmented batch* — DeiT's hard "
            "distillation on the class head, **without a distillation token** (`sat_lib.train.Teacher`). "
            "Teacher–student similarity is the zoo's SAT between the teacher and the student architecture trained "
            "without a teacher (chapter `sat-matrix`), as the paper scores ViT-Ti students by the SAT of DeiT-S. "
            "Teachers of the student's kind are the families in `student_kind` (attention-based: Transformer and "
            "Hybrid), the paper's \"Transformer\" teachers for its ViT student.\n\n"
            "**Where this was computed:** the `quick` profile on a 2-core CPU (LeViT-128S stands in for ViT-Ti: "
            "a ViT of ViT-Ti's proportions trains ten times longer here); the `paper` profile (a ViT-Ti-sized "
            "student, every model of the 35-model `cifar` zoo as a teacher) has not been run here."),
        params_cell(parameters_source(Config)),
        new_code_cell(
            "from IPython.display import Markdown, display\n"
            "from sat_lib.analysis import sat_distillation as analysis\n"
            "from sat_lib.experiments import resolve_params, sat_matrix, sat_training\n"
            "from sat_lib.experiments.sat_distillation import Config, matrix_config, run\n"
            "from sat_lib import plots, report\n"
            "from sat_lib.plots import sat_distillation as figures\n\n"
            "plots.use_style()\nreport.use_display()\n"
            "cfg = Config.from_mapping(globals())\n"
            "ds = run(cfg, mode=mode)\n"
            "try:  # the student architecture's seed copies, when the training chapter retrained it (for scale)\n"
            "    copies = analysis.seed_copies(sat_training.run(resolve_params('sat-training', cfg.matrix_profile), "
            "mode='cache_only'), cfg.student)\n"
            "except (LookupError, FileNotFoundError, ValueError):  # not retrained at this profile\n"
            "    copies = None"),
        new_markdown_cell("## Setting\n\nThis chapter's parameters and provenance, then those of the zoo result "
                          "whose models teach and whose SAT is read."),
        hidden("display(report.parameters(ds))\ndisplay(report.provenance(ds))\n"
               "display(report.provenance(sat_matrix.run(matrix_config(cfg), mode='cache_only')))"),
        new_markdown_cell("### What the students cost\n\nMinutes on the machine named in the provenance. Students "
                          "were trained while the machine sometimes ran other work and were not re-timed, so the "
                          "slowest student's seconds against the median show how much that inflates the total."),
        hidden("display(analysis.cost_summary(ds).round(1))"),
        new_markdown_cell("## Teachers and students\n\nEvery teacher with its accuracy and SAT with the student "
                          "architecture; the student's accuracy after distillation, its gain over the same student "
                          "trained without a teacher, how often it agrees with its teacher on the test split, and "
                          "the seconds its training took (the teacher labels every batch, so a slow teacher makes a "
                          "slow student)."),
        hidden("display(analysis.frame(ds).sort_values('student_accuracy', ascending=False).round(2))"),
        new_markdown_cell("### Does distillation help at all here?\n\nMean gain over the student trained alone, "
                          "with a 95 % interval over teachers. A single student's gain sits in the seed-to-seed "
                          "spread of the student architecture, printed below the table when the training chapter "
                          "has retrained it."),
        hidden("gains = analysis.gain_table(ds, copies, seed=cfg.seed)\ndisplay(gains)\n"
               "display(Markdown(gains.attrs.get('seed_noise', '')))"),
        new_markdown_cell("## Fig. 8: student accuracy against teacher–student SAT\n\nAll teachers, those of the "
                          "student's kind, and the rest. The line is a least-squares fit with its 90 % band, as the "
                          "paper draws it; the dashed line is the student trained without a teacher, the grey band "
                          "its seed copies' range."),
        hidden("plots.show(figures.fig8(ds, copies))"),
        new_markdown_cell("Pearson r with scipy's p (teachers as independent draws, as the paper's) and a 95 % "
                          "interval that resamples teachers; the last row of each group partials the teacher's "
                          "accuracy out of both (our teachers' accuracies spread far wider than the paper's)."),
        hidden("display(analysis.correlation_table(ds, seed=cfg.seed))"),
        new_markdown_cell("## Fig. F.1: teacher accuracy against student accuracy"),
        hidden("plots.show(figures.f1(ds, copies))"),
        new_markdown_cell("## The paper's claims beside ours\n\n" + VERDICT_RULE + " The paper calls Fig. 8b's "
                          "relation positive while printing r = −0.70; the value row quotes the number, the direction "
                          "row the text."),
        hidden("table = analysis.claims_table(ds, seed=cfg.seed)\ndisplay(table)"),
        hidden("display(Markdown(analysis.discussion(ds, table, gains)))"),
        *not_reproduced("sat-distillation"),
    ])


def universality() -> nbformat.NotebookNode:
    from sat_lib.experiments.universality import Config

    return notebook([
        new_markdown_cell(
            "# Are robust models universal?\n\n"
            "The *model universality hypothesis* says that adversarially robust models converge: their predictions "
            "and representations should match. The paper (robustness-and-universality) tests it on L2-robust models "
            "of several architectures. On regular images robust models agree no more than standard ones, and far "
            "less than their accuracies would allow (Fig. 1). On *inverted images* — a seed image of another class "
            "moved by gradient steps until the model's penultimate representation matches that of a target image "
            "(Eq. 7), so that it carries only the features the model uses — agreement and JSDSim rise with "
            "robustness (Fig. 3), linear CKA rises steadily, ProcrustesSim barely moves and k-NN Jaccard stays near "
            "zero (Fig. 4). The same holds with fewer training classes (Fig. 5) and for out-of-distribution seeds "
            "and targets (Fig. 6), where CKA and Jaccard are higher and ProcrustesSim lower.\n\n"
            "**Here**, the paper's CIFAR-10 part: every architecture of `archs` is trained at every ε of `eps` with "
            "L2 PGD adversarial training (`sat_lib.train.Adversary`: 3 steps of 2ε/3, Salman et al.'s setting; "
            "ε = 0 is standard training), with the zoo's optimiser recipe and plain cross-entropy as the paper. "
            "Each model inverts `n_images` test targets from seeds of another class (`sat_lib.inversion`: "
            "normalised L2 steps of decaying length in the valid pixel range, the robustness library's way); every "
            "pair (A, B) within one ε is compared on A's and on B's inverted images, as the paper does. Fig. 5's "
            "ImageNet50/100 become a drawn subset of `subset_classes` CIFAR-10 classes (all their images: fewer "
            "classes, as the paper's subsets), trained for the architectures of `subset_archs`; Fig. 6's SAT-6, "
            "not available "
            "here, becomes `ood_dataset` turned into 32-px RGB. Each (setting, architecture, ε) model is its own "
            "stored result (`universality-model`), so the grid resumes model by model.\n\n"
            "**Where this was computed:** the `quick` profile on a 2-core CPU: small models trained for a few "
            "epochs, far from the paper's (see *Training recipe* below). Read every similarity below together with "
            "Table 4's accuracies. Every similarity figure overlays each box (one dot per pair of models) with the "
            "pairs' mean and its 95 % bootstrap interval, which resamples architectures because pairs share them — "
            "the numbers of the summary table at the end. The "
            "`paper` profile (ResNet-18/50, ResNeXt-50, DenseNet-121 and a ViT of the `cifar` zoo, 90 epochs, "
            "10 000 inverted images) has not been run here."),
        params_cell(parameters_source(Config)),
        new_code_cell(
            "from IPython.display import Markdown, display\n"
            "from sat_lib.analysis import universality as analysis\n"
            "from sat_lib.experiments.universality import Config, run\n"
            "from sat_lib import plots, report\n"
            "from sat_lib.plots import universality as figures\n\n"
            "plots.use_style()\nreport.use_display()\n"
            "cfg = Config.from_mapping(globals())\n"
            "ds = run(cfg, mode=mode)"),
        new_markdown_cell("## Setting"),
        hidden("display(report.parameters(ds))\ndisplay(report.provenance(ds))"),
        new_markdown_cell("## Table 4: the models\n\nAccuracy comes first: clean test accuracy and L2 PGD accuracy "
                          "at the model's own ε (ε = 0 models at ε = 0.25, as the paper), ours per architecture, "
                          "beside the paper's seven CNNs (mean and range per ε; their table follows, verbatim)."),
        hidden("plots.show(figures.accuracy(ds))\n"
               "display(analysis.accuracy_by_eps(ds, n_boot=cfg.n_boot, seed=cfg.seed))"),
        hidden("display(analysis.model_table(ds).round(2))"),
        hidden("display(analysis.paper_table4())", ["output_scroll"]),
        new_markdown_cell("Our adversarial accuracies do not behave as Table 4's; the *discussion* at the end says "
                          "where they fall short and what we think the reasons are."),
        new_markdown_cell("### Training recipe\n\nOptimiser, weight decay, batch size, label smoothing and epochs "
                          "of each architecture as it trained here — read from the training recipes "
                          "(`sat_lib.train.RECIPES`) of the zoo entries and the stored parameters — beside the "
                          "paper's (Appendix A.4)."),
        hidden("display(Markdown(analysis.recipe_text(ds)))\ndisplay(analysis.training_recipes(ds))"),
        new_markdown_cell("### Did the inversion work?\n\nEq. 7's objective, the relative distance between the "
                          "representations of the inverted image and of its target, per image after inversion; "
                          "the paper does not report this number."),
        hidden("display(Markdown(analysis.inversion_text(ds, n_boot=cfg.n_boot, seed=cfg.seed)))\n"
               "plots.show(figures.inversion_distance(ds))"),
        new_markdown_cell("### What it cost\n\nSeconds per model on the machine named in *Setting* (adversarial "
                          "training costs about `at_steps` + 1 standard epochs per epoch; a model whose weights came "
                          "from the cache reports the seconds of the run that trained it; setting `ood` reuses the "
                          "`full` models, so only its inversion is new)."),
        hidden("display(analysis.cost_table(ds).round(1))"),
        new_markdown_cell("The whole chapter's computation, model by model as each was made, and the pair measures of "
                          "the run that assembled the result. "
                          "Where a model was first made while the machine also ran other work, its time was measured again by "
                          "redoing that work bit for bit on a quiet machine (`sat-companion retime`, see the README)."),
        hidden("display(analysis.compute_minutes(ds).round(1))"),
        new_markdown_cell("## Fig. 1: predictions on regular images\n\nAgreement and JSDSim of every pair "
                          "within one ε on the whole test split, with the pairs' mean and its 95 % interval. Red, "
                          "left of each box: each pair's Fort et al. upper bound on agreement, "
                          "1 − |acc_A − acc_B| (the line: the pairs' mean bound) — two models can disagree no less "
                          "than their accuracies differ."),
        hidden("plots.show(figures.regular(ds, n_boot=cfg.n_boot, seed=cfg.seed))"),
        new_markdown_cell("## Fig. 2: inverted images\n\nSeed, target and inverted image of a standard and of "
                          "the most robust model of two architectures."),
        hidden("plots.show(figures.examples(ds))"),
        new_markdown_cell("## Fig. 3: predictions on inverted images"),
        hidden("plots.show(figures.inverted_predictions(ds, n_boot=cfg.n_boot, seed=cfg.seed))"),
        new_markdown_cell("## Fig. 4: representations on inverted images\n\nLinear CKA, ProcrustesSim and "
                          "k-NN Jaccard (cosine neighbours of centred penultimate representations) of every pair."),
        hidden("plots.show(figures.representations(ds, n_boot=cfg.n_boot, seed=cfg.seed))"),
        new_markdown_cell("## Fig. 5: fewer classes\n\nThe same measures for models trained on the drawn class "
                          "subset (their inverted images come from the subset's test images), beside all classes."),
        hidden("display(Markdown(analysis.subset_text(ds, n_boot=cfg.n_boot, seed=cfg.seed)))\n"
               "plots.show(figures.representations(ds, ('full', 'subset'), 'paper Fig. 5', n_boot=cfg.n_boot, "
               "seed=cfg.seed))\n"
               "display(analysis.subset_accuracy(ds).round(1))"),
        new_markdown_cell("## Fig. 6: out-of-distribution seeds and targets\n\nThe CIFAR-10 models invert "
                          "images of another dataset (seed and target both from it) and are compared on them."),
        hidden("plots.show(figures.representations(ds, ('full', 'ood'), 'paper Fig. 6', n_boot=cfg.n_boot, "
               "seed=cfg.seed))"),
        new_markdown_cell("## Fig. 7: neighbourhood size\n\nk-NN Jaccard at every k of `ks`; with "
                          "`n_images` inverted images the overlap of unrelated neighbourhoods (dotted) is no longer "
                          "near 0 at large k."),
        hidden("plots.show(figures.jaccard_k(ds, n_boot=cfg.n_boot, seed=cfg.seed))"),
        new_markdown_cell("## Every number behind the figures\n\nMean over pairs with a 95 % interval that "
                          "resamples architectures, and the pairs' range."),
        hidden("import pandas as pd\nwith pd.option_context('display.max_rows', 200):\n"
               "    display(analysis.summary(ds, n_boot=cfg.n_boot, seed=cfg.seed).round(3))", ["output_scroll"]),
        new_markdown_cell("## The paper's claims beside ours\n\n" + VERDICT_RULE + " A claim that a quantity "
                          "stays inside a band (\"barely changes\", \"comparable\": ±0.05, stated in "
                          "`sat_lib/claims/universality.yaml`) agrees when our whole interval lies inside it and "
                          "disagrees when it lies wholly outside. Differences are the most robust ε minus ε = 0, "
                          "paired over architectures."),
        hidden("table = analysis.claims_table(ds, n_boot=cfg.n_boot, seed=cfg.seed)\ndisplay(table)\n"
               "display(Markdown(table.attrs['note']))"),
        new_markdown_cell("## Discussion"),
        hidden("display(Markdown(analysis.discussion(ds, table, n_boot=cfg.n_boot, seed=cfg.seed)))"),
        *not_reproduced("universality"),
    ])


def corruptions() -> nbformat.NotebookNode:
    from sat_lib.experiments.corruptions import Config

    return notebook([
        new_markdown_cell(
            "# Resilience to natural corruptions\n\n"
            "Rosales et al. ask whether *design diversity* makes classifiers and their ensembles more resilient to "
            "natural image corruptions. Their first step (Sec. 4.1, Table 1) evaluates twelve ImageNet models on "
            "ImageNet-C-bar *Lines* at strength 1.6: size correlates with resilience, but *architecture matters "
            "more than size or accuracy* — the smallest transformer beats CNNs with 2–3× its parameters. Fig. 4 "
            "shows a ResNet50 losing much of its 76 % accuracy on Plasma 4.0, Checkerboard 4.0, Waterdrop 7.0 and "
            "Lines 1.6.\n\n"
            "**Here**, the SAT chapter's CIFAR-10 zoo (its stored models, not retrained) is evaluated on the same "
            "`n_images` test images clean and corrupted: the paper's four corruptions at its strengths (the "
            "reference generator's `water_drop` is the paper's Waterdrop; it belongs to neither C-bar set) and "
            "the CIFAR-10-C-bar set at `levels` of its five severities (`sat_lib.corruptions`: the reference's "
            "corruptions batched in torch, each image with its own seeded parameters; the corrupted sets are "
            "cached, never committed). Relative resilience = corrupted accuracy / clean accuracy.\n\n"
            "**Where this was computed:** the `quick` profile on a 2-core CPU; the `paper` profile (the `cifar` "
            "zoo, all test images, all five levels) has not been run here. The zoo has no self-supervised member "
            "(none trains in minutes here) and no distilled one: the `sat-distillation` chapter's ViT students "
            "are distilled, but this chapter scores the `sat-matrix` zoo as it stands, so that its resilience "
            "and the SAT chapters speak of the same models. The ensembles are the next chapter (`diversity-ensembles`), negative-correlation training the one after "
            "(`diversity-training`)."),
        params_cell(parameters_source(Config)),
        new_code_cell(
            "from IPython.display import Markdown, display\n"
            "from sat_lib.analysis import corruptions as analysis\n"
            "from sat_lib.config import project_config\n"
            "from sat_lib.experiments.corruptions import Config, run\n"
            "from sat_lib import plots, report\n"
            "from sat_lib.plots import corruptions as figures\n\n"
            "plots.use_style()\nreport.use_display()\n"
            "cfg = Config.from_mapping(globals())\n"
            "ds = run(cfg, mode=mode)"),
        new_markdown_cell("## Setting"),
        hidden("display(report.parameters(ds))\ndisplay(report.provenance(ds))"),
        new_markdown_cell("## The corruptions\n\nEvery registered corruption at the lowest, middle and highest "
                          "severity its C-bar set uses, on the same test images."),
        hidden("from sat_lib.experiments.corruptions import matrix_config\n"
               "test = project_config().load_data(matrix_config(cfg).dataset, 'test')\n"
               "rgb = test if test.channels == 3 else test.conformed(3, test.image_size)  # grey: corrupted as RGB\n"
               "plots.show(figures.gallery(rgb.images[ds['image'].values[:2]]))"),
        new_markdown_cell("## Table 1: the zoo on the paper's corruptions\n\nAccuracy first: each model's clean "
                          "accuracy, its accuracy on the paper's four corruptions, and its relative resilience; "
                          "then the paper's Table 1, verbatim."),
        hidden("display(analysis.frame(ds).round(2))"),
        hidden("display(analysis.paper_table1())"),
        new_markdown_cell("## Every corrupted set\n\nThe zoo's mean, lowest and highest accuracy on each set, "
                          "then every model on every set."),
        hidden("display(analysis.by_corruption(ds).round(1))", ["output_scroll"]),
        hidden("plots.show(figures.accuracy_heatmap(ds))"),
        new_markdown_cell("## Fig. 4: the baseline\n\nThe zoo's ResNet (`baseline`) on the clean set and the four "
                          "corruptions, beside the paper's ResNet50 where its text gives a number."),
        hidden("plots.show(figures.fig4(ds))"),
        new_markdown_cell("## Size, accuracy or architecture?\n\nSpearman ρ of parameters and of clean accuracy "
                          "with corrupted accuracy and relative resilience (95 % intervals over models), and how "
                          "much of the relative resilience each explains (adjusted R², so the family's extra "
                          "degrees of freedom are paid for)."),
        hidden("plots.show(figures.resilience(ds))"),
        hidden("display(analysis.correlation_table(ds, n_boot=cfg.n_boot, seed=cfg.seed))", ["output_scroll"]),
        hidden("display(analysis.explained_table(ds, n_boot=cfg.n_boot, seed=cfg.seed))"),
        new_markdown_cell("## The paper's claims beside ours\n\n" + VERDICT_RULE),
        hidden("display(analysis.claims_table(ds, n_boot=cfg.n_boot, seed=cfg.seed))"),
        *not_reproduced("corruptions"),
    ])


def diversity_ensembles() -> nbformat.NotebookNode:
    from sat_lib.experiments.diversity_ensembles import Config

    return notebook([
        new_markdown_cell(
            "# Diversity of heterogeneous ensembles\n\n"
            "Rosales et al. (Sec. 4.2) build every three-member ensemble of 14 independently trained ImageNet "
            "models of different architectures (364 ensembles) and ask which kind of diversity goes with a better "
            "ensemble. The *improvement* of an ensemble is $A_{ens} - A_{top}$, its accuracy minus that of its most "
            "accurate member: an ensemble only makes sense above zero. Two diversity metrics are compared. "
            "Prediction-based: the disagreement of two members (Eq. 4), here averaged over the ensemble's pairs,\n\n"
            "$$D_{p,q}=\\frac{N^{01}+N^{10}}{N^{11}+N^{10}+N^{01}+N^{00}}.\\qquad(4)$$\n\n"
            "Attribution-based: the variance across members of their input attributions (Saliency maps of the "
            "true class), summed over channels and pixels and averaged over images,\n\n"
            "$$A=\\sum_{c=1}^{C}\\sum_{p=1}^{P}\\mathrm{Var}(a_{c,p}).\\qquad(7)$$\n\n"
            "The paper finds attribution diversity positively, disagreement negatively correlated with the "
            "improvement (Fig. 5), the same trends under majority vote with most ensembles below zero (Fig. 6), the "
            "same on four corrupted sets, where the members' mean accuracy correlates more strongly still (Fig. 7), "
            "and that Saliency ranks model pairs like Integrated Gradients (Fig. 9).\n\n"
            "**Here**, the `pool` is 14 of the SAT chapter's CIFAR-10 models (its stored weights, not retrained) of "
            "five families, on `n_images` test images clean and corrupted as in the corruptions chapter (the paper's "
            "four corruptions at its strengths). Each model is computed once — logits on every set, signed Saliency "
            "maps (captum) on `attribution_images` of them (a seeded random subset: the test split here is stored "
            "class by class, so the first images of the draw would be one or two classes) in every set and "
            "Integrated Gradients at each of "
            "`ig_steps` on the clean ones, kept in the cache — and every ensemble is combined from those. Eq. 7 is "
            "computed on unit-normalised maps ($1-\\lVert\\bar u\\rVert^2$, in $[0, 1]$: the paper plots a "
            "\"normalized\" metric without defining it, and raw gradients differ in scale between architectures); "
            "the raw Eq. 7 is kept beside it. Every interval resamples the pool's *models* (ensembles share "
            "members), keeping the ensembles whose members were all drawn.\n\n"
            "**Where this was computed:** the `quick` profile on a 2-core CPU; the `paper` profile (14 models of the "
            "`cifar` zoo, the whole test split) has not been run here."),
        params_cell(parameters_source(Config)),
        new_code_cell(
            "import pandas as pd\n"
            "from IPython.display import Markdown, display\n"
            "from sat_lib.analysis import diversity_ensembles as analysis\n"
            "from sat_lib.experiments.diversity_ensembles import Config, run\n"
            "from sat_lib import plots, report\n"
            "from sat_lib.plots import diversity_ensembles as figures\n\n"
            "plots.use_style()\nreport.use_display()\n"
            "cfg = Config.from_mapping(globals())\n"
            "ds = run(cfg, mode=mode)"),
        new_markdown_cell("## Setting"),
        hidden("display(report.parameters(ds))\ndisplay(report.provenance(ds))"),
        new_markdown_cell("## The pool\n\nEach model's family, parameters and accuracy on every set. A model whose "
                          "output does not depend on its input has all-zero attribution maps; Eq. 7 on unit maps then "
                          "uses only the images on which every member's map is nonzero (last column)."),
        hidden("display(analysis.models_frame(ds).round(2))"),
        new_markdown_cell("## Fig. 5: averaging\n\nEvery ensemble's improvement over its best member against its "
                          "attribution diversity (left) and its disagreement (right), on clean images, consensus by "
                          "the mean of the members' logits. Colour: the ensemble's accuracy; area: its parameters."),
        hidden("plots.show(figures.fig5(ds))"),
        hidden("display(analysis.correlation_table(ds, n_boot=cfg.n_boot, seed=cfg.seed, set_names=['clean']))"),
        new_markdown_cell("## Fig. 6: majority vote\n\nThe same ensembles with a plurality vote of the members "
                          "(ties broken at random, seeded), then how many ensembles beat their best member under each "
                          "rule on each set."),
        hidden("plots.show(figures.fig6(ds))"),
        hidden("display(analysis.summary_table(ds).round(2))"),
        new_markdown_cell("## Fig. 7: trend lines on corrupted sets\n\nThe improvement's trend line against each "
                          "metric (rows) on every set (columns), averaging; the slopes are in percentage points over "
                          "the metric's range, with 95 % intervals over models. Then every correlation on every set "
                          "and rule, Pearson and Spearman."),
        hidden("plots.show(figures.fig7(ds))"),
        hidden("display(analysis.trend_table(ds, n_boot=cfg.n_boot, seed=cfg.seed).drop(columns='slope'))"),
        hidden("display(analysis.correlation_table(ds, n_boot=cfg.n_boot, seed=cfg.seed))", ["output_scroll"]),
        new_markdown_cell("## Fig. 9: Saliency against Integrated Gradients\n\nEq. 7 of every pair of pool models on "
                          "the clean attribution images, from Saliency maps and from Integrated Gradients at each step "
                          "count (the paper: six NAS subnetworks). Does the cheaper method rank the pairs alike, and "
                          "what does each cost?"),
        hidden("plots.show(figures.fig9(ds))"),
        hidden("display(analysis.method_table(ds, n_boot=cfg.n_boot, seed=cfg.seed))"),
        new_markdown_cell("## The paper's claims beside ours\n\n" + VERDICT_RULE + " The corrupted-set claims have "
                          "one row per set."),
        hidden("display(analysis.claims_table(ds, n_boot=cfg.n_boot, seed=cfg.seed))"),
        *not_reproduced("diversity-ensembles"),
    ])


def diversity_nas() -> nbformat.NotebookNode:
    from sat_lib.experiments.diversity_nas import Config

    return notebook([
        new_markdown_cell(
            "# Ensembles of NAS subnetworks\n\n"
            "Rosales et al. (Sec. 4.2, Fig. 8) repeat their ensemble study on architectures made by neural "
            "architecture search: a BootstrapNAS super-network trained from a ResNet50, from which they take 11 "
            "subnetworks \"with different configurations but similar complexity\" (varying depth and width) and "
            "score all 165 three-member ensembles as they score their heterogeneous pool (previous chapter). They "
            "report that \"although the correlations seem strong for all metrics, the actual ensemble improvement "
            "is very low, i.e., less than 0.04 %\", that the two diversity metrics correlate highly positively, "
            "and (Fig. 9, on six subnetworks) that Saliency ranks the pairs' attribution diversity like "
            "Integrated Gradients (mean correlation 0.998).\n\n"
            "**Here**, a weight-sharing super-network is trained on CIFAR-10 (`sat_lib.models.supernet`: a "
            "32-px bottleneck ResNet whose depth — 1 to 1 + `extra_depth` blocks a stage —, bottleneck expansion "
            "— 0.2, 0.25 or 0.35 — and width — ×1, ×0.8 or ×0.6 of `stage_widths` — are elastic, as in "
            "Once-for-All, whose conventions BootstrapNAS follows). It is trained by the *sandwich rule* with "
            "in-place distillation (`sat_lib.nas`: each step trains the largest subnetwork on the labels and the "
            "smallest and `sampled` random ones on the largest's predictions), not by BootstrapNAS's progressive "
            "shrinking, whose stages of tens of epochs a 2-core CPU cannot afford; the zoo's SGD recipe, "
            "precision and weights cache train it like any model. `n_subnets` subnetworks are kept: those of "
            "`candidates` seeded random configurations whose parameter counts lie closest to the median. Each is "
            "cut out of the super-network, its BatchNorm statistics recalibrated on `bn_images` training images "
            "(as BootstrapNAS does), and scored exactly like the heterogeneous pool: logits on the clean and "
            "corrupted test images, captum Saliency and Integrated Gradients maps, every ensemble's improvement "
            "over its best member, disagreement (Eq. 4) and attribution diversity (Eq. 7, on unit-normalised "
            "maps). Every interval resamples the pool's subnetworks.\n\n"
            "**Where this was computed:** the `quick` profile on a 2-core CPU; the `paper` profile (longer "
            "super-network training, attributions on 1 000 images) has not been run here."),
        params_cell(parameters_source(Config)),
        new_code_cell(
            "import pandas as pd\n"
            "from IPython.display import Markdown, display\n"
            "from sat_lib.analysis import diversity_ensembles as ensembles\n"
            "from sat_lib.analysis import diversity_nas as analysis\n"
            "from sat_lib.experiments.diversity_nas import Config, heterogeneous, run\n"
            "from sat_lib import plots, report\n"
            "from sat_lib.plots import diversity_ensembles as figures\n"
            "from sat_lib.plots import diversity_nas as nas_figures\n\n"
            "plots.use_style()\nreport.use_display()\n"
            "cfg = Config.from_mapping(globals())\n"
            "ds = run(cfg, mode=mode)\n"
            "het = heterogeneous(cfg)  # the diversity-ensembles result of `ensembles_profile`, if stored"),
        new_markdown_cell("## Setting"),
        hidden("display(report.parameters(ds))\ndisplay(report.provenance(ds))\n"
               "display(Markdown(analysis.compute_minutes(ds) + '.'))"),
        new_markdown_cell("## The super-network and its subnetworks\n\nAccuracy first. The super-network's "
                          "training, then each subnetwork of the pool: blocks per stage, expansion indices per "
                          "block (0 = 0.2, 1 = 0.25, 2 = 0.35; blocks a shallower stage skips keep an unused index), "
                          "width indices of the stem and the stages (0 = ×1, 1 = ×0.8, 2 = ×0.6), parameters, and "
                          "accuracy before and after BatchNorm recalibration and on every set."),
        hidden("display(analysis.supernet_summary(ds).round(3))"),
        hidden("display(Markdown(analysis.size_spread(ds)))\ndisplay(analysis.subnets_frame(ds).round(2))"),
        new_markdown_cell("## Fig. 8: how much do subnetwork ensembles gain?\n\nEvery ensemble's improvement over "
                          "its best member on clean images, beside the heterogeneous pool of the previous chapter on "
                          "the same axis, with the paper's bound for its NAS ensembles; then both pools per consensus "
                          "rule."),
        hidden("plots.show(nas_figures.improvement_against_heterogeneous(ds, het))"),
        hidden("display(analysis.comparison_table(ds, het).round(3))\n"
               "display(Markdown(analysis.comparison_caveat(ds, het)))"),
        new_markdown_cell("## Fig. 8: improvement against diversity\n\nAs Fig. 5 draws the heterogeneous pool: "
                          "improvement against attribution diversity (left) and disagreement (right); then the "
                          "correlations on every set, with intervals over subnetworks."),
        hidden("plots.show(figures.fig5(ds))"),
        hidden("display(ensembles.correlation_table(ds, n_boot=cfg.n_boot, seed=cfg.seed))", ["output_scroll"]),
        new_markdown_cell("## Fig. 9: Saliency against Integrated Gradients\n\nThe paper's Fig. 9 is on NAS "
                          "subnetworks: Eq. 7 of every pair of subnetworks from Saliency and from Integrated "
                          "Gradients at each step count, on the clean attribution images."),
        hidden("plots.show(figures.fig9(ds))"),
        hidden("display(ensembles.method_table(ds, n_boot=cfg.n_boot, seed=cfg.seed))"),
        new_markdown_cell("## The paper's claims beside ours\n\n" + VERDICT_RULE + " The comparison with the "
                          "heterogeneous pool resamples both pools' models independently."),
        hidden("display(Markdown(analysis.claims_note(ds, het)))\n"
               "display(analysis.claims_table(ds, het, n_boot=cfg.n_boot, seed=cfg.seed))"),
        *not_reproduced("diversity-nas"),
    ])


def diversity_training() -> nbformat.NotebookNode:
    from sat_lib.experiments.diversity_training import Config

    return notebook([
        new_markdown_cell(
            "# Training for diversity\n\n"
            "Rosales et al. (Sec. 4.3) train three-member ResNet50 ensembles *jointly*, with losses that push the "
            "members apart, and ask whether that makes the ensemble more resilient to natural corruptions. The "
            "heuristics of their Fig. 10: (a) independent cross-entropy; generalised negative correlation learning "
            "(GNCL) with (b) average, (c) median, (d) geometric-mean and (e) majority-vote consensus,\n\n"
            "$$\\sum_{i=1}^M l(h^i, y) - \\frac{\\lambda}{2M} \\sum_{i=1}^M d_i^T \\mathcal{D} d_i,\\qquad(2)$$\n\n"
            "with $d_i = h^i - f$ the member's deviation from the consensus $f$ and $\\mathcal{D}$ the loss's "
            "second derivative; (f) GNCL with the penalty dropped where a member is wrong; (g) the balanced loss of "
            "team and members,\n\n"
            "$$\\frac{1}{M} \\sum_{i=1}^M \\Big(\\lambda\\, l(f, y) + \\frac{1-\\lambda}{M} \\sum_{j=1}^M "
            "l(h^j, y)\\Big);\\qquad(3)$$\n\n"
            "and a first attempt at enforcing *attribution* diversity, $\\frac{1}{M}\\sum_i l(h^i, y) - \\lambda A$ "
            "(Eq. 8) with $A$ the variance of the members' Saliency maps (Eq. 7). The paper finds that explicit "
            "prediction diversity does not improve resilience, that the balanced loss helps on 3 of 4 corruptions, "
            "and that the attribution loss trains unstably (63.7 % against 76.1 % top-1). Table 2, Figs. 11 and 12 "
            "then compare the prediction diversity (Shannon equitability), attribution maps and layer similarity "
            "(CKA) of an attribution-diversity, a prediction-diversity and a heterogeneous ensemble. The paper "
            "motivates all of it with the Littlewood–Miller (LM) model of design diversity, argued qualitatively; "
            "here its quantities are computed.\n\n"
            "**Here**, the members are the zoo's `arch` (a VGG-style CNN: the zoo's fastest accurate model on this "
            "CPU; the paper's is ResNet50), trained jointly on CIFAR-10 for `epochs` epochs with the zoo's recipe "
            "(`sat_lib.ensemble_training`: each heuristic and consensus rule is a registered function; the members "
            "see the same batches; every objective is a sum over members, so each member trains at the recipe's "
            "learning rate — AdaBelief, the paper's optimiser, is indifferent to that scale, SGD is not). GNCL's "
            "$\\mathcal{D}$ is the cross-entropy's Hessian at the consensus, $\\mathrm{diag}(p) - pp^T$; the "
            "vote consensus is the mean logit of the members that voted for the winning class; Eq. 8's Saliency "
            "penalty is computed on `penalty_batch` images of each batch (double backward). One ensemble per "
            "heuristic and seed; every interval resamples the seeds and the test images together. The heterogeneous "
            "ensemble is three stored models of the SAT chapter's zoo (`heterogeneous`). The test images and "
            "corrupted sets are the corruptions chapter's (the paper's four corruptions at its strengths).\n\n"
            "**Where this was computed:** the `quick` profile on a 2-core CPU; the `paper` profile (ResNet50 members, "
            "100 epochs, five seeds) has not been run here."),
        params_cell(parameters_source(Config)),
        new_code_cell(
            "import pandas as pd\n"
            "from IPython.display import Markdown, display\n"
            "from sat_lib.analysis import diversity_training as analysis\n"
            "from sat_lib.config import project_config\n"
            "from sat_lib.experiments.diversity_training import Config, run\n"
            "from sat_lib import plots, report\n"
            "from sat_lib.plots import diversity_training as figures\n\n"
            "plots.use_style()\nreport.use_display()\n"
            "cfg = Config.from_mapping(globals())\n"
            "ds = run(cfg, mode=mode)"),
        new_markdown_cell("## Setting"),
        hidden("display(report.parameters(ds))\ndisplay(report.provenance(ds))\n"
               "display(Markdown(analysis.compute_minutes(ds) + '.'))"),
        new_markdown_cell("## Accuracy first\n\nEach heuristic's ensembles (under their own consensus rule) and "
                          "their members on the clean test images and the four corruptions, mean over seeds with "
                          "95 % intervals over seeds × images; the heterogeneous ensemble last. The paper's "
                          "ImageNet top-1: heterogeneous 78.2 %, prediction diversity 76.1 %, attribution "
                          "diversity 63.7 %."),
        hidden("display(analysis.accuracy_table(ds, n_boot=cfg.n_boot))", ["output_scroll"]),
        hidden("display(analysis.training_table(ds).round(3))"),
        new_markdown_cell("## Fig. 10: resilience of the heuristics\n\nEnsemble accuracy per set (top) and "
                          "*resilience* — accuracy on a corruption over clean accuracy, as the corruptions chapter "
                          "defines it — per corruption (bottom), for the ensembles (the ratio of their mean "
                          "accuracies over seeds; 95 % intervals over seeds × images, each seed's clean and "
                          "corrupted images drawn together) and their members; then the resilience in numbers, and "
                          "each heuristic minus the independently trained ensembles, per set and on the corruptions' "
                          "mean, in accuracy and in resilience (pp, 95 % intervals over seeds × images)."),
        hidden("plots.show(figures.fig10(ds, n_boot=min(cfg.n_boot, 1000)))"),
        hidden("display(analysis.resilience_table(ds, n_boot=cfg.n_boot))", ["output_scroll"]),
        hidden("display(analysis.versus_table(ds, n_boot=cfg.n_boot))", ["output_scroll"]),
        new_markdown_cell("## Table 2: prediction diversity\n\nShannon equitability of the members' predictions "
                          "(Eq. 5) on the images the ensemble classifies correctly ($H_{corr}$) and incorrectly "
                          "($H_{inco}$), for the attribution-diversity (`attribution_method`), prediction-diversity "
                          "(`prediction_method`) and heterogeneous ensembles; the paper's ImageNet value beside "
                          "each (IN ↔ clean, WD ↔ water_drop, LI ↔ lines, PL ↔ plasma, CB ↔ checkerboard; the "
                          "paper's ImageNet-V2 column has no counterpart here)."),
        hidden("display(analysis.equitability_table(ds, n_boot=cfg.n_boot))", ["output_scroll"]),
        new_markdown_cell("## Fig. 11: attribution maps\n\nSaliency maps (|gradient| of the true class, maximum "
                          "over colour channels, each scaled to its maximum) of the members of the three ensembles "
                          "(seed of the first ensemble) on `shown_images` test images, one per class in turn; then "
                          "Eq. 7 for every ensemble on `attribution_images` clean images (a seeded random subset of "
                          "the draw), on unit-norm maps (in [0, 1]) and raw."),
        hidden("test = project_config().load_data(cfg.matrix_config().dataset, 'test')\n"
               "plots.show(figures.fig11(ds, test.images[ds['shown'].values]))"),
        hidden("display(analysis.attribution_table(ds, n_boot=cfg.n_boot))"),
        new_markdown_cell("## Fig. 12: layer similarity\n\nLinear CKA between every weight layer of the first "
                          "member (rows) and of the second (columns) on `cka_images` clean images (a seeded random subset), for the "
                          "independent, prediction-diversity, attribution-diversity and heterogeneous ensembles; "
                          "then the maps' means for every heuristic (mean over seeds)."),
        hidden("plots.show(figures.fig12(ds))"),
        hidden("display(analysis.cka_table(ds).round(3))"),
        new_markdown_cell(
            "## The Littlewood–Miller model, computed\n\n"
            "A design methodology $A$ (an architecture family; a training heuristic) is a distribution over "
            "trained models; its difficulty function $\\theta_A(x)$ is the probability that a model drawn from it "
            "fails on input $x$ — estimated by the share of its models that fail (the zoo's families from the "
            "corruptions chapter's predictions on the same images; the heuristics from the members of all their "
            "seeds' ensembles). "
            "For one model drawn from each of $A$ and $B$,\n\n"
            "$$P(\\text{both fail}) = E[\\theta_A \\theta_B] = E[\\theta_A]E[\\theta_B] + "
            "\\mathrm{Cov}(\\theta_A, \\theta_B),$$\n\n"
            "so diverse designs beat independent failures only where their difficulty functions are negatively "
            "correlated. The figure puts every pair of methodologies on those axes; the table gives, per set, how "
            "much more two models of *different* methodologies fail together beyond independence than two of the "
            "*same* one, the mean covariance of different methodologies' θ, how much more often a pair of models "
            "fails together than independence, $E[\\theta'_A]E[\\theta'_B]$, predicts (mean over pairs), and how "
            "far single pairs stray from the LM prediction $E[\\theta'_A \\theta'_B]$ beyond test-set noise. θ' is "
            "estimated from the *other* models, never the pair itself; for two models of one methodology, from the "
            "pairs of its other models from different ensembles (members of one jointly trained ensemble are never "
            "paired: they are not independent draws).\n\n"
            "**Which error of the LM prediction.** Its mean *signed* error over the pairs is ≈ 0 by construction — "
            "each pair's prediction averages other pairs of the same models — so it tests nothing. Its mean "
            "*absolute* error is mostly test-set noise: biased upward, the bootstrap's replicates more than the "
            "estimate, so a percentile interval of it can miss its own estimate (a BCa interval degenerates as "
            "well). The table gives instead the root mean square of observed − LM *beyond* the noise: the mean over "
            "pairs of $(obs - LM)^2 - s^2/n$, with $s^2$ the variance of a pair's per-image error over the $n$ "
            "images — an unbiased estimate — and the noise $\\sqrt{\\overline{s^2/n}}$ beside it. Its interval adds "
            "the bootstrap replicates' deviations from the sample's own mean square (on which they are centred) to "
            "the estimate, then takes roots. Intervals resample the images; the claims table's LM row (the "
            "independence error minus the LM's, both mean absolute errors) has a bias-corrected and accelerated "
            "(BCa) interval."),
        hidden("plots.show(figures.coincidence(ds))"),
        hidden("plots.show(figures.difficulty_correlation(ds))"),
        hidden("display(analysis.lm_table(ds, n_boot=min(cfg.n_boot, 1000)))", ["output_scroll"]),
        new_markdown_cell("## The paper's claims beside ours\n\n" + VERDICT_RULE + " Claims about a heuristic or "
                          "set have one row per heuristic or set. `resampled` counts each ensemble once, however "
                          "many of its quantities a row combines (equitability and correctness of the same "
                          "ensembles are drawn together)."),
        hidden("claims = analysis.claims_table(ds, cfg)\n"
               "display(claims)"),
        new_markdown_cell("## What this shows"),
        hidden("display(Markdown(analysis.discussion(ds, claims)))"),
        *not_reproduced("diversity-training"),
    ])


def measures() -> nbformat.NotebookNode:
    from sat_lib.experiments.measures import Config

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
            "from sat_lib.experiments.measures import Config, run\n"
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


def salience() -> nbformat.NotebookNode:
    from sat_lib.experiments.salience import Config

    return notebook([
        new_markdown_cell(
            "# Convergence of input salience\n\n"
            "Wang et al. (NeurIPS 2024) train many seeds of four width families (CNNSmall, CNNLarge, ResNetSmall, "
            "ResNetLarge; width parameter $k$) and compare their *input salience*, the gradient of the true-class "
            "logit with respect to the input. Their claim: as capacity grows, the salience of independently trained "
            "models converges towards a shared mean direction, across families, which would explain why deep "
            "ensembles work and why black-box attacks transfer. Two models are compared by the individual "
            "similarity\n\n"
            "$$p_{ind}(f_1, f_2)=\\mathbb{E}_x\\big[\\mathrm{CosSim}(\\nabla_x f_1(x), \\nabla_x f_2(x))\\big],$$\n\n"
            "and a population at width $k$ by $t$, the cosine of each model's salience with the population's mean "
            "direction.\n\n"
            "**What is different here.** The paper uses CIFAR-10/100 and TinyImageNet; CIFAR-100 and TinyImageNet "
            "are not available to this project, so the populations are trained on CIFAR-10 (the JPEG copy of it, "
            "whose pixels differ slightly from the original files) and on Fashion-MNIST. Training follows the "
            "official code (plain SGD, learning rate 0.1 decayed as $1/\\sqrt{\\mathrm{epoch}+1}$, batch 128, no "
            "augmentation, dataset mean/std normalisation) but for far fewer epochs, so every model's accuracy "
            "and loss are shown first. The parameters table below says which profile produced these results.\n\n"
            "**Where this was computed.** The committed result is the `quick` profile, computed on a 2-core CPU "
            "population by population. The `paper` profile (the paper's widths and seeds, more epochs) is sized "
            "for GPUs or a Dask cluster and **has not been run here**; each population is one job of the "
            "project's executor, so `sat-companion run salience --profile paper --scheduler tcp://…` trains the "
            "populations side by side on a user's cluster, each stored as it finishes."),
        params_cell(parameters_source(Config)),
        new_code_cell(
            "import pandas as pd\n"
            "from IPython.display import Markdown, display\n"
            "from sat_lib import plots, report\n"
            "from sat_lib.analysis import salience as analysis\n"
            "from sat_lib.experiments.salience import Config, run\n"
            "from sat_lib.plots import salience as figures\n\n"
            "plots.use_style()\nreport.use_display()\n"
            "cfg = Config.from_mapping(globals())\n"
            "pops = run(cfg, mode=mode)\n"
            "main = analysis.main_populations(pops)\n"
            "first = next(iter(pops.values()))"),
        new_markdown_cell("## Setting\n\nEach population (a family on a dataset at one batch size) is one stored "
                          "result under `data/results/salience/`; the parameters and provenance of the first are "
                          "shown (the others differ only in dataset, family, widths and batch size)."),
        hidden("display(report.parameters(first))\ndisplay(report.provenance(first))\n"
               "display(Markdown(analysis.setting_markdown(pops)))"),
        new_markdown_cell("## The populations\n\nTest accuracy and loss (mean ± std over seeds) of every width, "
                          "parameter count and training time. Convergence claims mean little for models that "
                          "have not learned; read everything below with this table beside it."),
        hidden("display(analysis.accuracy_table(pops))"),
        new_markdown_cell("Every model (click to show):"),
        hidden("display(analysis.model_table(pops))", extra_tags=["hide-output"]),
        new_markdown_cell("## 1. Does similarity rise with width? (paper Fig. 2 / 12)\n\n"
                          "$p(k_1, k_2)$ is the mean of $p_{ind}$ over pairs of distinct models of widths $k_1$, "
                          "$k_2$. Each population at full resolution and, as in the official code, with the "
                          "gradients area-downsampled to 8×8 first. The paper reports that $p$ rises along both "
                          "axes."),
        hidden("plots.show(figures.width_heatmaps(pops))\ndisplay(analysis.diagonal_trend_table(main))"),
        new_markdown_cell("## 2. Mean directions across widths and families (hypothesis H2, Fig. 21)\n\n"
                          "Cosine between two mean salience directions, averaged over the test samples (stored 8×8 "
                          "fingerprints). With few seeds a mean direction is itself noisy, so every entry compares "
                          "means of half the seeds, from disjoint halves, averaged over splits: the diagonal is a "
                          "population's split-half similarity, and an off-diagonal entry close to the diagonal "
                          "means two populations share their mean direction as far as this many seeds can tell. "
                          "First, within each family, the mean directions at two widths (the paper's Fig. 21 "
                          "right, there for ViTs); then across families at equal width."),
        hidden("plots.show(figures.mean_direction_heatmaps(pops))"),
        hidden("for d in analysis.datasets(main):\n"
               "    cf = analysis.cross_family(pops, d)\n"
               "    if cf.sizes['family'] > 1:\n"
               "        plots.show(figures.cross_family(cf, d))"),
        new_markdown_cell("## 3. The marginal of $t$ and the Saw model (paper Figs. 7, 8, 22)\n\n"
                          "$t$ is each model's cosine with the mean direction of the *other* seeds at its width "
                          "(leave-one-out: with few seeds a model would otherwise be compared with a mean it is a "
                          "large part of). Grey: the density of $t$ for a direction uniform on the sphere of the "
                          "same dimension $d$, $p(t)\\propto(1-t^2)^{(d-3)/2}$. Dashed: the exponential member "
                          "$\\psi_k(t)=e^{\\kappa_k t}$ of the Saw family, fitted by maximum likelihood, whose "
                          "marginal is $p_k(t)\\propto\\psi_k(t)(1-t^2)^{(d-3)/2}$. Right: log KDE against the "
                          "fitted log density; points on the dotted identity line mean the model fits (the paper's "
                          "Fig. 8 right shows $\\log p_k$ linear in $\\log\\psi_k$). The table tests the fit "
                          "with Kolmogorov–Smirnov; where it rejects, the Saw member does not describe our $t$. "
                          "First, as in the paper's Fig. 22, how unlikely the observed alignment is by chance: the "
                          "probability that a random direction has cosine above $p$, against the share of our "
                          "models' $t$ above $p$ at each population's largest width."),
        hidden("plots.show(figures.tail_probability(pops))"),
        hidden("widths = sorted({int(k) for ds in main.values() for k in ds['width'].values})\n"
               "for ds in main.values():\n"
               "    plots.show(figures.t_marginals(ds, 'full', widths=widths))\n"
               "    display(analysis.saw_linearity(ds, 'full'))"),
        new_markdown_cell("## 4. Wasserstein distances within a family (paper Table 1)\n\n"
                          "For two models $f_1, f_2$ of one family and width, the Wasserstein distance between "
                          "their distributions over test samples of the cosine with the mean direction of the "
                          "family's *other* models (8×8 fingerprints; 2 is the largest possible value)."),
        hidden("display(analysis.wasserstein_table(pops))"),
        new_markdown_cell("## 5. Black-box transfer (paper Figs. 11 and 25)\n\n"
                          "One-step sign attack of the official `black_box_attack.py`: $x' = x - 0.05\\cdot"
                          "\\mathrm{sign}(\\nabla_x p_{true})$ in normalised units, clamped to valid pixels (the "
                          "official code clamps to the batch's range). Score $\\alpha$ = mean over images of "
                          "$p_{true}(x')/p_{true}(x)$ on the target (lower: stronger attack), and the accuracy drop. "
                          "Sources: the largest model of the family, another seed of the target's width, and the "
                          "mean direction of the other seeds at the target's width."),
        hidden("plots.show(figures.transfer_curves(pops))\n"
               "for ds in main.values():\n"
               "    plots.show(figures.transfer_heatmaps(ds))"),
        new_markdown_cell("## 6. Test loss against $\\mathbb{E}[t]$ (paper Figs. 9 and 24)\n\n"
                          "Single models and deep ensembles of $m$ members (probabilities averaged). An ensemble's "
                          "salience is its members' mean logit gradient (exact for the mean of logits); $t$ is taken "
                          "against the mean direction of the width's seeds *outside* the ensemble, so an ensemble "
                          "is never compared with itself (an ensemble of every seed has no such reference). That "
                          "reference is the mean of $S-m$ seeds, so it is noisier for larger ensembles: compare "
                          "E[t] across widths and families at one $m$ (the table's rows), not across $m$. The "
                          "correlations are given over the paper's CNN/ResNet families (its Fig. 9) and over all."),
        hidden("lt = analysis.loss_vs_t(pops)\nplots.show(figures.loss_vs_t(lt))\n"
               "display(analysis.loss_t_correlation(lt))"),
        new_markdown_cell("## 7. Batch size (paper Fig. 18)\n\n$p(k, k)$ between distinct seeds, and accuracy, "
                          "for one family trained at several batch sizes."),
        hidden("be = analysis.batch_effect(pops)\n"
               "if len(be):\n"
               "    plots.show(figures.batch_effect(be))\n"
               "    display(be.round(3))\n"
               "else:\n"
               "    display(Markdown('*No batch-size study in this run (`batch_sizes` is empty).*'))"),
        new_markdown_cell("## 8. The authors' own models\n\n"
                          "The paper's authors released eleven trained CIFAR-10 CNNSmall models (k = 8 … 48). "
                          "Measuring *their* models with *our* pipeline separates our measurement from our "
                          "training: their accuracy on our CIFAR-10 copy; ρ(k1, k2) by the official procedure "
                          "(true-class logit gradients, area-downsampled to 8×8, cosine, on 256 test images — a "
                          "seeded class-balanced draw, because our copy's test split is stored class by class "
                          "and the official script's first 2 × 128 images would all be airplanes), drawn as their "
                          "`saliency_similarity.py` draws it, and at full resolution beside; the one-step "
                          "attack's α across their models; the paper's width trends read from them, with 95 % "
                          "intervals over images; and our populations beside theirs: at equal width, and our "
                          "ρ(k1, k2) across widths beside theirs on the same images."),
        hidden("from sat_lib.analysis import salience_official as official\n"
               "from sat_lib.config import project_config\n"
               "from sat_lib.experiments import salience_official\n"
               "ods = salience_official.run(salience_official.Config(n_salience=cfg.n_salience, "
               "salience_seed=cfg.seed), mode=mode) if cfg.official_models else None\n"
               "if ods is None:\n"
               "    display(Markdown(f'*This section is skipped: {salience_official.skip_reason(cfg.official_models)}.*'))\n"
               "else:\n"
               "    display(official.accuracy_table(ods).round(3))\n"
               "    plots.show(figures.official_maps(ods))\n"
               "    display(official.claims_table(ods))\n"
               "    std = project_config().load_data('cifar10', 'test').std\n"
               "    versus = official.ours_vs_theirs(ods, main, std)\n"
               "    display(versus)\n"
               "    cross = official.cross_width(ods, main, std)\n"
               "    display(cross)\n"
               "    display(Markdown(official.summary(ods, versus, cross)))"),
        new_markdown_cell("## The paper's claims beside ours\n\n" + VERDICT_RULE + " Salience statistics are "
                          "resampled over the fixed test images (the 8×8 fingerprints are stored per image), "
                          "attacks over target models, correlations over models, the Saw slope over the "
                          "(population, width) fits."),
        hidden("table = analysis.claims_table(pops)\ndisplay(table)"),
        hidden("display(Markdown(analysis.discussion(pops, table)))"),
        *not_reproduced("salience"),
    ])


def status() -> nbformat.NotebookNode:
    from sat_lib.experiments.status import Config

    return notebook([
        new_markdown_cell(
            "# What is reproduced\n\n"
            "Every table and figure of the four papers, the chapter and section of this book that reproduces it, "
            "and the verdicts of the claims that speak for it. The states (reproduced, partly, not yet) are kept "
            "in `sat_lib/claims/inventory.yaml`; the verdicts are computed, from the stored results of the profile "
            "below, by each chapter's claims table — a verdict is *agrees* / *disagrees* / *inconclusive* by a "
            "95 % bootstrap interval, never by a point estimate.\n\n"
            "**Hardware.** No accelerator was available where this book was built: every committed result was "
            "computed at the `quick` profile on a 2-core CPU, with small models (the last table names the device "
            "and commit of each chapter's run). The `paper` profile is sized for GPUs or a Dask cluster and has not been run "
            "here."),
        params_cell(parameters_source(Config)),
        new_code_cell(
            "from IPython.display import Markdown, display\n"
            "from sat_lib.claims import status\n"
            "from sat_lib.experiments.status import Config, collect\n"
            "from sat_lib.config import project_config\n"
            "from sat_lib import report\n\n"
            "report.use_display()\n"
            "cfg = Config.from_mapping(globals())\n"
            "profile = cfg.profile or project_config().default_profile\n"
            "found = collect(cfg)\n"
            "claims = {name: (v[0] if v else None) for name, v in found.items()}\n"
            "provenance = {name: f'profile {profile} · {v[1]}' for name, v in found.items() if v}"),
        new_markdown_cell("## The four papers"),
        hidden("display(status.overview(claims))\n"
               "missing = [name for name, v in found.items() if v is None]\n"
               "if missing:\n"
               "    display(Markdown(f'*No stored results at the `{profile}` profile for: {\", \".join(missing)}; '\n"
               "                     'their verdicts are left blank.*'))"),
        *[cell for key, title in (("sat", "SAT: similarity by attack transferability"),
                                  ("robustness", "Are robust models universal?"),
                                  ("salience", "Convergence of input salience"),
                                  ("diversity", "Design diversity under natural corruptions"))
          for cell in (new_markdown_cell(f"## {title}"),
                       hidden(f"display(Markdown('*' + status.inventory()['papers'][{key!r}]['title'] + '*'))\n"
                              f"display(status.items_table({key!r}, claims).set_index('item'))"))],
        new_markdown_cell("## Computed by\n\nThe run behind each chapter's stored result: profile, device, git "
                          "commit and date (each chapter's own parameters table gives the rest)."),
        hidden("display(status.runs(provenance))"),
    ])


CHAPTERS = {"status": status, "sat_matrix": sat_matrix, "sat_components": sat_components,
            "sat_training": sat_training, "sat_attacks": sat_attacks,
            "sat_ensembles": sat_ensembles, "sat_distillation": sat_distillation,
            "universality": universality, "salience": salience, "corruptions": corruptions,
            "diversity_ensembles": diversity_ensembles, "diversity_nas": diversity_nas,
            "diversity_training": diversity_training,
            "measures": measures}

if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    for name, make in CHAPTERS.items():
        path = ROOT / "notebooks" / f"{name}.ipynb"
        nbformat.write(make(), path)
        print(f"wrote {path}")
