pytest_plugins = ["ntkbench.pytest_plugin"]
