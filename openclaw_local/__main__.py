from openclaw_local.cli import main

raise SystemExit(main())
