# Nexus Core. `make run` starts everything; `make test` checks everything. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed

.PHONY: run test lint types pytest install messages services-start services-stop clean-data api-schema benchmark-ingest \
	benchmark-resolution benchmark-graph benchmark-anomalies benchmark-anomalies-speed benchmark-search

$(INSTALLED): requirements/base.txt requirements/local.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/local.txt
	touch $@

# Node packages the tests need (a real OpenID Connect provider, a browser driver).
$(NODE_INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(INSTALLED)

run: $(INSTALLED)
	$(BIN)/python manage.py run

test: $(INSTALLED) $(NODE_INSTALLED) lint types pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(INSTALLED)
	$(BIN)/mypy .

pytest: $(INSTALLED) $(NODE_INSTALLED)
	$(BIN)/pytest

# Extract new strings into locale/ and compile; translate locale/uk/LC_MESSAGES/django.po in between.
messages: $(INSTALLED)
	$(BIN)/python manage.py makemessages --locale uk --locale en --ignore '.venv/*' --ignore 'node_modules/*' --ignore 'var/*' --ignore 'tests/*' --no-obsolete
	$(BIN)/python manage.py compilemessages --ignore '.venv/*' --ignore 'node_modules/*'

# Regenerate the committed OpenAPI schema; tests/accounts/test_api_schema.py fails while it differs from the code.
api-schema: $(INSTALLED)
	$(BIN)/python manage.py spectacular --lang en --validate --fail-on-warn --file docs/api/openapi.yaml

services-start: $(INSTALLED)
	$(BIN)/python -m nexus.embedded start

services-stop: $(INSTALLED)
	$(BIN)/python -m nexus.embedded stop

# Stops the embedded servers and deletes their data; the next `make run` starts afresh.
clean-data: $(INSTALLED)
	$(BIN)/python -m nexus.embedded remove-data

# docs/performance.md: a ~600 MB declarations CSV end to end against a plain COPY (about 3 minutes with generation).
benchmark-ingest: services-start
	$(BIN)/python manage.py migrate --verbosity 0
	$(BIN)/python manage.py benchmark_ingest

# docs/performance.md: entity resolution speed and quality (P/R/F1) on generated data with a known answer.
benchmark-resolution: services-start
	$(BIN)/python manage.py migrate --verbosity 0
	$(BIN)/python manage.py benchmark_resolution

# docs/performance.md: 2-hop neighbourhoods and the graph analytics on 1,000,000 relationships.
benchmark-graph: services-start
	$(BIN)/python manage.py migrate --verbosity 0
	$(BIN)/python manage.py benchmark_graph

# docs/performance.md: search API latency (autocomplete, full-text, hybrid) under concurrent clients on generated
# declarations. ROWS=… sets the size (the target scale is 5,000,000); SEARCH_BENCHMARK_ARGS=--reuse measures again.
benchmark-search: services-start
	$(BIN)/python manage.py migrate --verbosity 0
	$(BIN)/python manage.py benchmark_search --rows $(or $(ROWS),5000000) $(SEARCH_BENCHMARK_ARGS)

# docs/performance.md: recall of each planted scheme at the top 5 % (200,000 generated declarations, ~3 minutes).
benchmark-anomalies: $(INSTALLED)
	$(BIN)/python manage.py benchmark_anomalies --rows 200000

# docs/performance.md: scoring speed with all detectors and the risk model (ROWS declarations, default 4,000,000;
# DATA=dir reuses a generate_customs --seed 11 output instead of generating; WORKERS=n scoring threads).
benchmark-anomalies-speed: $(INSTALLED)
	$(BIN)/python manage.py benchmark_anomalies $(if $(DATA),--data $(DATA),--rows $(or $(ROWS),4000000)) \
		$(if $(WORKERS),--workers $(WORKERS))
