"""Allow ``python -m asterisk_textback``."""

from asterisk_textback.cli.main import main

raise SystemExit(main())
