"""cbor2's decoder and encoder (Rust) import these stdlib modules at run time, for semantic tags
(decimal fractions, rationals, UUIDs, IP addresses, MIME messages, regexes, timestamps).
PyInstaller cannot see imports made from compiled code, so name them here."""

hiddenimports = [
    "datetime",
    "decimal",
    "email.mime.text",
    "email.parser",
    "fractions",
    "ipaddress",
    "re",
    "uuid",
]
