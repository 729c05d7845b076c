"""Shared pieces of the Dojo tab's panels (not registered itself)."""

from __future__ import annotations

import textwrap


class DojoSubPanel:
    """A sub-panel of the Dojo tab (child of ``VIEW3D_PT_rig_dojo``)."""

    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "Dojo"
    bl_parent_id = "VIEW3D_PT_rig_dojo"


def wrapped(layout, context, text: str, icon: str = 'NONE') -> None:
    """Labels for ``text``, wrapped to the sidebar's width (the first line carries the icon)."""
    region = getattr(context, "region", None)
    width = max(24, int(region.width / 7)) if region is not None and region.width > 1 else 48
    col = layout.column(align=True)
    first = True
    for paragraph in text.splitlines() or [""]:
        for line in textwrap.wrap(paragraph, width, subsequent_indent="  ") or [""]:
            col.label(text=line, icon=icon if first else 'BLANK1' if icon != 'NONE' else 'NONE')
            first = False


def table(layout, title: str, header: tuple[str, ...], rows) -> None:
    """A titled grid: ``header`` then ``rows`` of text (a family's report in the Evaluate panel)."""
    col = layout.column(align=True)
    col.label(text=title)
    grid = col.grid_flow(row_major=True, columns=len(header), even_columns=True, align=True)
    for text in header:
        grid.label(text=text)
    for row in rows:
        for text in row:
            grid.label(text=text)
