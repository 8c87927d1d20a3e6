"""`python -m projections.runner`: one worker of a rebuild in processes
(`projections.runner.rebuild_worker`)."""

from projections.runner.rebuild_worker import main

main()
