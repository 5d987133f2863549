"""`python -m tuneforge ...` (and `accelerate launch -m tuneforge train ...`, `torchrun -m tuneforge train ...`)."""

from tuneforge.cli.main import main

main()
