"""`make bench`: the harness, one way of measuring, the scenarios by transport, one report."""
