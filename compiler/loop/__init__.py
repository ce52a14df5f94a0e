"""The learning loop's commands: capture records, A/B reports, evaluation, usage, tuning."""
