"""Public feeds and pages (SPEC §6–7): everything here goes through `projections.public`."""
