"""Analysis: read-only history queries, canned reports and verification of the live picture."""
