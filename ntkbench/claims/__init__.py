"""One module per claim: `run(cfg, runner) -> ClaimResult`, reading like the paper's experiment."""
