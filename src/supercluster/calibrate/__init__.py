"""Calibration on a real device: microbenchmarks -> a profile -> the efficiency table the step model uses."""
