"""Published-run validation harness."""

from supercluster.validate.harness import ValidationReport, run

__all__ = ["ValidationReport", "run"]
