"""A rig's switches (Rigify's ``IK_FK`` on ``upper_arm_parent.L``, its ``pole_vector``): set one on request.

When a selection does not move what it must, the extraction names the custom property whose other value
would make it move ("set upper_arm_parent.L["IK_FK"] = 1.0 (it is 0.0)", ``extract_ik.switch_hint``). The
command line takes the same text back (``--switch 'upper_arm_parent.L["IK_FK"]=1.0'``) and the sidebar offers
a button per switch named in its last report (:func:`switches_in`). Setting one changes the rig as the user
asked, as setting the property by hand would (the sidebar's button is one undo step).
"""

from __future__ import annotations

import ast
import re

import bpy

from ...errors import RigDojoError, did_you_mean
from .extract import get_armature

# 'set BONE["PROP"] = VALUE (it is OLD)' as extract_ik.switch_hint writes it
_HINT = re.compile(r'set (?P<bone>[^\s"\[]+(?: [^\s"\[]+)*)\["(?P<prop>[^"]+)"\] = (?P<value>[^\s()]+) \(it is')
# what the command line takes: BONE["PROP"]=VALUE (quotes optional)
_ARG = re.compile(r'^\s*(?P<bone>.+?)\[\s*"?(?P<prop>[^"\]]+?)"?\s*\]\s*=\s*(?P<value>.+?)\s*$')


def switches_in(message: str) -> list[tuple[str, str, str]]:
    """The switches a refusal names: ``[(bone, property, value as text), ...]``."""
    return [(m["bone"], m["prop"], m["value"]) for m in _HINT.finditer(message or "")]


def parse_switch(text: str) -> tuple[str, str, str]:
    """``'upper_arm_parent.L["IK_FK"]=1.0'`` as ``(bone, property, value text)``; RigDojoError otherwise."""
    m = _ARG.match(text or "")
    if m is None:
        raise RigDojoError(f"--switch {text!r}: write BONE[\"PROPERTY\"]=VALUE, e.g. "
                           "'upper_arm_parent.L[\"IK_FK\"]=1.0' (as the refusal that names the switch says)")
    return m["bone"].strip(), m["prop"].strip(), m["value"].strip()


def _value(text: str, old):
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise RigDojoError(f"switch value {text!r} is not a number or True/False") from None
    if isinstance(old, bool) or isinstance(value, bool):
        return bool(value)
    if isinstance(value, (int, float)) and isinstance(old, (int, float)):
        return type(old)(value)
    raise RigDojoError(f"switch value {text!r} is not a number or True/False")


def set_switch(rig, bone: str, prop: str, value_text: str) -> str:
    """Set the custom property ``prop`` of the pose bone ``bone`` of ``rig`` to ``value_text``; returns what was
    done in words. RigDojoError for a bone or property the rig does not have (with the closest names)."""
    obj = get_armature(rig)
    pb = obj.pose.bones.get(bone)
    if pb is None:
        raise RigDojoError(f"{obj.name!r} has no bone named {bone!r}{did_you_mean(bone, obj.pose.bones.keys())}")
    keys = [k for k in pb.keys() if not k.startswith("_")]
    if prop not in keys:
        raise RigDojoError(f"the bone {bone!r} has no custom property {prop!r}{did_you_mean(prop, keys)}; its "
                           f"properties: {', '.join(keys) or 'none'}")
    old = pb[prop]
    if not isinstance(old, (bool, int, float)):
        raise RigDojoError(f'{bone}["{prop}"] is not a number or a True/False switch')
    value = _value(value_text, old)
    _check_range(pb, bone, prop, value)
    pb[prop] = value
    obj.update_tag()  # a custom property set from Python does not tag the rig itself
    bpy.context.view_layer.update()
    return f'set {bone}["{prop}"] = {pb[prop]!r} (it was {old!r})'


def _check_range(pb, bone: str, prop: str, value) -> None:
    """The property's own range (Rigify's IK_FK runs from 0 to 1) and its listed choices (a parent switch)."""
    if isinstance(value, bool):
        return
    try:
        ui = pb.id_properties_ui(prop).as_dict()
    except (TypeError, KeyError, AttributeError):
        return  # a property without UI data: any number
    items = ui.get("items")
    if items:
        values = [item[4] for item in items]
        if value not in values:
            raise RigDojoError(f'{bone}["{prop}"] = {value!r}: choose one of ' +
                               ", ".join(f"{v} ({item[1]})" for v, item in zip(values, items)))
        return
    low, high = ui.get("min"), ui.get("max")
    if low is not None and high is not None and not (low <= value <= high):
        raise RigDojoError(f'{bone}["{prop}"] = {value!r} is outside its range {low:g} to {high:g}')
