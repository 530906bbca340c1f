"""The country-owned stock ledger: one owner per country for every closure plan and reservation."""
