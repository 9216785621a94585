from sat_lib.cli import main

raise SystemExit(main())
