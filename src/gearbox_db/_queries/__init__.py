"""Statement builders and row mappers: pure code, no I/O.

Each module builds the SQLAlchemy statements of one repository and maps
their rows to records. The async repositories (and the sync ones generated
from them) only execute what these build.
"""
