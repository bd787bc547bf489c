"""Presentation: Chrome/Perfetto traces and the HTML report."""
