from agent_orchestrator.cli import main

raise SystemExit(main())
