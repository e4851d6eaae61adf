# Two commands for a new machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
FLASK   = $(VENV)/bin/flask --app participation
PORT   ?= 5000

.PHONY: run test test-fast lint worker beat assets translations extract-messages db clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

static/vendor/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/socket.io-client/dist/socket.io.min.js node_modules/socket.io-client/dist/socket.io.min.js.map static/vendor/
	cp node_modules/chart.js/dist/chart.umd.min.js static/vendor/chart.min.js
	touch $@

assets: static/vendor/.installed

translations: $(VENV)/.installed
	$(VENV)/bin/pybabel compile -d participation/translations

extract-messages: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -o participation/translations/messages.pot .
	$(VENV)/bin/pybabel update -i participation/translations/messages.pot -d participation/translations

db: $(VENV)/.installed
	$(FLASK) db upgrade

## Set up and start the platform on the embedded default (SQLite, in-process tasks, demo data).
run: $(VENV)/.installed assets translations db
	$(FLASK) demo load
	PORT=$(PORT) $(FLASK) serve

## Set up and run the whole test suite (DATABASE_URL / REDIS_URL pick PostgreSQL and Redis).
test: $(VENV)/.installed-dev assets translations
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(VENV)/.installed-dev assets translations
	$(PY) -m pytest -m "not browser and not redis and not slow" $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check participation tests
	$(VENV)/bin/ruff format --check participation tests

worker: $(VENV)/.installed
	$(VENV)/bin/celery -A participation.worker:celery worker --loglevel=info

beat: $(VENV)/.installed
	$(VENV)/bin/celery -A participation.worker:celery beat --loglevel=info

clean:
	rm -rf $(VENV) node_modules static/vendor
