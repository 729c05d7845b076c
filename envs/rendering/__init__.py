"""Render-settings tuning (no bpy)."""
