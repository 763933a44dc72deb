"""The sync log: what each run did with each row, in the ledger's database (see ``records.py``)."""
