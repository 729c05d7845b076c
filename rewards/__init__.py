"""Reward terms and their composer. Never imports bpy (DESIGN.md, rule 1)."""
