"""Imports: one record at a time (the importer's rows) and the bulk path."""
