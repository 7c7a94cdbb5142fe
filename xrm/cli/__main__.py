"""`python -m xrm.cli` runs the xrm command line."""

from xrm.cli import main

main()
