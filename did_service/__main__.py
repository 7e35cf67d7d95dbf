from did_service.cli import main

raise SystemExit(main())
