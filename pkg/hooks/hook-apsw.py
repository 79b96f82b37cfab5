"""apsw's C extension imports `apsw.aio` itself when an async connection is opened; PyInstaller
cannot see imports made from compiled code, so name it here."""

hiddenimports = ["apsw.aio"]
