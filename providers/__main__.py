"""``python -m omnivec.providers`` runs the ``omnivec`` command (for scripts and subprocesses)."""

from .cli import main

if __name__ == "__main__":
    main()
