"""`python -m deepfake_coach` runs the same CLI as the `dfcoach` command."""

from deepfake_coach.cli import main

if __name__ == "__main__":
    main()
