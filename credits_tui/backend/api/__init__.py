"""The HTTP layer: app factory, thin routes, dependencies, the error envelope."""
