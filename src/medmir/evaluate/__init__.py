"""Evaluation: the metric core (pure functions), tiers, chance baselines, hard cases and the report."""
