"""Data protection: per-learner export and erase, retention of launch logs and raw events."""
