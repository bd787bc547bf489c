"""Facility: power, energy, water, emissions, cost, build-out."""
