"""The index stage: images + labels + a model pack -> a bundle (local engine, Ray engine, --update)."""
