"""Allow ``python -m asterisk_textback``."""

from asterisk_textback.cli import main

raise SystemExit(main())
