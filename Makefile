# CPM: `make run` serves the demo, `make test` runs the whole suite. See README.md.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test lint format install migrate messages bench bench-intake clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

migrate: install
	DEBUG=1 $(BIN)/python manage.py migrate --noinput

# Web server and django-q2 worker together; Ctrl-C stops both.
run: migrate
	DEBUG=1 $(BIN)/python manage.py seed_demo
	@echo "CPM on http://127.0.0.1:$(PORT)/  (logins: agent, supervisor, admin; password: demo)"
	@echo "Post a message: see README.md, 'Posting a message' (key: manage.py channel_key email)"
	@DEBUG=1 bash -c 'trap "kill 0" EXIT; \
		$(BIN)/python manage.py qcluster & \
		$(BIN)/python manage.py runserver 127.0.0.1:$(PORT); '

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The whole suite: lint, then every test (SQLite by default; PostgreSQL with DATABASE_URL).
test: lint
	env -u DATABASE_URL DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run > /dev/null
	$(BIN)/pytest

messages: install
	DEBUG=1 $(BIN)/python manage.py makemessages -l de --ignore=.venv --ignore=var --ignore=tests
	DEBUG=1 $(BIN)/python manage.py compilemessages -l de --ignore=.venv

bench: install
	$(BIN)/pytest tests/bench/bench_*.py -s

# Intake throughput under gunicorn (PostgreSQL only; its own database, filled once with
# 1,000,000 customers in about a minute). `make bench` only skips this script.
BENCH_INTAKE_DB ?= cpm_intake_bench
bench-intake: install
	createdb -h 127.0.0.1 -U postgres $(BENCH_INTAKE_DB) 2>/dev/null || true
	DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/$(BENCH_INTAKE_DB) \
		$(BIN)/python manage.py migrate --noinput
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/$(BENCH_INTAKE_DB) \
		$(BIN)/python tests/bench/bench_intake.py load

clean:
	rm -rf $(VENV) var
