"""Extraction of the text keys the templates read, for `pybabel extract` (babel.cfg).

The templates read their words as attributes, `{{ t.kicker }}`, of the catalogue's texts under
one prefix (`catalog.texts(locale, "render")`): the key is the prefix, which babel.cfg gives per
folder, and the attribute ("render.kicker").
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO

import jinja2
from jinja2 import nodes


def template_texts(
    fileobj: IO[bytes],
    keywords: Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, str],
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel's extractor interface: (line, keyword, key, comments) for every `t.<name>`."""
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    prefix = options["prefix"]
    for node in jinja2.Environment().parse(source).find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name == "t":
            yield node.lineno, "t", f"{prefix}.{node.attr}", []
