# Tsunagu — `make run` serves a development instance, `make test` runs the test suite.
PYTHON ?= python3
UV ?= $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif
VENV := .venv
PY := $(VENV)/bin/python
# A stamp, not $(PY): .venv/bin/python is a symlink, and touching it would touch the interpreter itself.
SYNCED := $(VENV)/.synced
HOST ?= 127.0.0.1:8000

.PHONY: run serve test install migrate demo lint check-migrations bench vendor messages clean

# uv comes from PyPI when it is missing; one retry of the sync guards against a transient failure.
$(SYNCED): pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --user --quiet uv \
		|| $(PYTHON) -m pip install --user --quiet --break-system-packages uv
	$(UV) sync --frozen || $(UV) sync --frozen
	@touch $(SYNCED)

install: $(SYNCED)

migrate: install
	$(PY) manage.py migrate --noinput

# Links in mails and printed logins point at the server `make run` starts, unless TSUNAGU_BASE_URL says otherwise.
run demo: export TSUNAGU_BASE_URL ?= http://$(HOST)

# The demo admin first (the demo gives it tickets of its own), then the history in bulk on an empty
# database and each app's part through its services (crm/demo.py); a second run changes nothing.
demo: migrate
	$(PY) manage.py seed_demo --with-admin

run: demo
	$(PY) manage.py runserver $(HOST)

# Production on one machine: PostgreSQL + a broker, DEBUG off, gunicorn + Celery workers + beat (deploy/serve.sh).
serve: install
	bash deploy/serve.sh

test: install
	$(PY) -m pytest -n auto $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .

check-migrations: install
	$(PY) manage.py makemigrations --check --dry-run

bench: install
	$(PY) bench/run.py $(BENCH_ARGS)

# One run from the root files each string in its app's catalogue (templates/<app>/ included, see
# crm/management/commands/makemessages.py), so nothing any app uses is ever dropped; .ci/messages
# checks that the committed catalogues are what this makes, and that every ja string is translated.
MESSAGES_IGNORE := --ignore=.venv --ignore=var --ignore=tests --ignore=bench --ignore=deploy --ignore=static
messages: install
	$(PY) manage.py makemessages -l ja --no-obsolete --add-location=file $(MESSAGES_IGNORE)
	$(PY) manage.py compilemessages -l ja $(MESSAGES_IGNORE)

vendor:
	bash static/vendor.sh

clean:
	rm -rf $(VENV) var
