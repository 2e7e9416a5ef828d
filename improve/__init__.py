"""The improvement loop: honest comparisons (A/B tests, before/after checks), improvement actions (PDCA)
and quality reports. Pure logic over KPI totals; imports only the core (docs/improve.md)."""
