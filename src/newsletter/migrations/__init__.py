"""Alembic migrations of the project's database (see newsletter.store.migrate).

Revision 0001 is the schema the project had before migrations existed; a
database created then (tables present, no ``alembic_version``) is stamped at
0001 and upgraded from there, never recreated.
"""
