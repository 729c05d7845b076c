"""The one exception type users see (DESIGN.md, rule 7).

Bad input raises :class:`RigDojoError` with a message that says what is wrong
and what to do. Operators turn it into ``self.report({'ERROR'}, ...)``; the
command line prints it as one line on stderr and exits with code 2.
"""


class RigDojoError(Exception):
    """Bad input from the user: the message says what is wrong and what to do."""

    exit_code = 2


class NotExactError(RigDojoError):
    """The twin does not reproduce Blender's evaluation for a selection."""

    exit_code = 3


def a_or_an(word: str) -> str:
    """``word`` with its article: "a mesh", "an empty", "an armature"."""
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def did_you_mean(name: str, candidates, *, n: int = 3) -> str:
    """``"; did you mean 'DEF-hand.L'?"`` for a misspelt name: names that contain it first (``hand.L`` in
    ``DEF-hand.L``), then the closest by spelling, ignoring case; "" when nothing is close."""
    import difflib

    names = [c for c in dict.fromkeys(candidates) if isinstance(c, str) and not c.startswith("WGT")]
    key = str(name).lower()
    containing = sorted((c for c in names if len(key) >= 3 and key in c.lower()), key=len) if key else []
    lowered = {c.lower(): c for c in names}
    close = [lowered[c] for c in difflib.get_close_matches(key, list(lowered), n=n, cutoff=0.6)]
    picks = list(dict.fromkeys(containing[:n] + close))[:n]
    if not picks:
        return ""
    return f"; did you mean {' or '.join(repr(c) for c in picks)}?"


def listed(names, *, limit: int = 12) -> str:
    """Names for a message: Rigify's widget shapes (``WGT-*``) left out, at most ``limit`` then a count."""
    names = list(names)
    shown = [n for n in names if not n.startswith("WGT")]
    hidden = len(names) - len(shown)
    text = ", ".join(shown[:limit]) or "none"
    if len(shown) > limit:
        text += f" and {len(shown) - limit} more"
    if hidden:
        text += f" (and {hidden} widget shapes)"
    return text
