"""The market-data project built on the framework: its job task `collect` (market/collect), declared in
medallion.yaml. Nothing in framework/ imports it; the framework runs it as `medallion task collect`."""
