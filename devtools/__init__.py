"""Developer tooling (test and benchmark helpers): never installed, never bundled."""
