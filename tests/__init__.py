"""privrec's tests, one folder per part of the code: serving/, components/<component>/, trainer/,
privacy/, pipeline/, data/, app/, bench/, and e2e/ for whole-pipeline runs; helpers in support/.

`make test` runs everything not marked `heavy` and shares one tiny `privrec run` among the tests
that need a run's outputs (conftest.py: tiny_cli_run, tiny_run); CI adds `-m 'heavy or not
heavy'`. The last lines of a session give its wall time and any default test over 60 s."""
