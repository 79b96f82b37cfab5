"""sqlglot imports a dialect module by name the first time it is used (`read="sqlite"`,
`dialect="postgres"`), which static analysis cannot follow. Take every dialect: they are pure
Python in the archive, never unpacked to disk, and imported only when asked for."""

from PyInstaller.utils.hooks import collect_submodules

hiddenimports = collect_submodules("sqlglot.dialects")
