"""`python -m benchmarks [--gpu] [--quick] [--images N] [--models A,B]`: `harness bench` of this checkout."""
import sys

from harness import cli

sys.exit(cli.main(["bench", *sys.argv[1:]]))
