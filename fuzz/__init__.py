"""Coverage-guided fuzzing (atheris) of every reader that takes a visitor's bytes: ``make fuzz``."""
