# The two commands of the README: `make run` and `make test`.
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: install run test test-postgres lint typecheck lint-imports bench-sweep

install:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen

# The demo business (`licensary demo`) is loaded once, into an empty database; LICENSARY_DEMO=false
# starts without it.
run: install
	LICENSARY_DEBUG=$${LICENSARY_DEBUG:-true} $(UV) run licensary migrate -v0
	@if [ "$${LICENSARY_DEMO:-true}" != "false" ]; then \
		LICENSARY_DEBUG=$${LICENSARY_DEBUG:-true} $(UV) run licensary demo; fi
	LICENSARY_DEBUG=$${LICENSARY_DEBUG:-true} $(UV) run licensary up

test: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run lint-imports
	$(UV) run mypy
	$(UV) run pytest -q $(PYTEST_ARGS)
	$(UV) run pytest -q -p no:django -c clients/licensary_client/pyproject.toml clients/licensary_client/tests

test-postgres: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/licensary} $(UV) run pytest -q $(PYTEST_ARGS)

lint: install
	$(UV) run ruff check . && $(UV) run ruff format --check .

typecheck: install
	$(UV) run mypy

lint-imports: install
	$(UV) run lint-imports

bench-sweep: install
	$(UV) run python bench/sweep.py
