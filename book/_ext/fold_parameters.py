"""Fold the parameters papermill injected into a chapter: the page opens with what it shows, not with a code cell.

Papermill writes the profile's values as a code cell tagged ``injected-parameters`` near the top of every executed
chapter (the runner's note above it names the profile). This extension gives that cell the same toggle a
``hide-input`` tag gives (myst-nb's ``hide_mode``), before myst-nb's own post-transform draws the toggles, so the
values stay one click away ("Show the parameters papermill injected").
"""
from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform

TAG = "injected-parameters"
SHOW = "Show the parameters papermill injected"
HIDE = "Hide the parameters papermill injected"


class FoldInjectedParameters(SphinxPostTransform):
    default_priority = 150  # before myst_nb.sphinx_.HideInputCells (199), which turns hide_mode into a toggle
    formats = ("html",)

    def run(self, **kwargs) -> None:
        for node in self.document.findall(nodes.container):
            tags = (node.get("cell_metadata") or {}).get("tags", [])
            if node.get("nb_element") == "cell_code" and TAG in tags and not node.get("hide_mode"):
                node["hide_mode"] = "input"
                node["prompt_show"] = SHOW
                node["prompt_hide"] = HIDE


def setup(app: Sphinx) -> dict:
    app.add_post_transform(FoldInjectedParameters)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
