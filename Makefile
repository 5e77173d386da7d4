# The documented commands. `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONUNBUFFERED := 1

.PHONY: run test test-calendar lint format migrations-check ci clean bench-classification bench-reports bench-backfill bench bench-digest bench-cluster faults fuzz audit

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## run: web + Celery worker + beat (embedded PostgreSQL and a filesystem broker unless DATABASE_URL/CELERY_BROKER_URL are set)
run: $(VENV)/.installed
	$(PY) scripts/run.py

# The official Adaptive Cards renderer, for the browser tests of the Teams card.
TEST_JS := tests/js/node_modules/.installed
$(TEST_JS): tests/js/package.json tests/js/package-lock.json
	$(PY) scripts/debian.py npm
	npm ci --prefix tests/js --silent --no-audit --no-fund
	touch $@

## test: the whole suite against throwaway PostgreSQL and Redis servers (browser tests in headless Chromium)
test: $(VENV)/.installed $(TEST_JS)
	$(PY) scripts/debian.py chromium chromedriver:chromium-driver haproxy pgbouncer
	$(PY) scripts/with_services.py -- $(PY) -m pytest $(PYTEST_ARGS)

## test-calendar: the whole suite with every process's clock moved: a year ahead to 00:05 on the first
## of a month, then to 01:59 before New York's next spring-forward change (scripts/clock.py)
test-calendar: $(VENV)/.installed $(TEST_JS)
	$(PY) scripts/debian.py chromium chromedriver:chromium-driver haproxy pgbouncer
	$(PY) scripts/with_services.py --clock month-start-year-ahead -- $(PY) -m pytest $(PYTEST_ARGS)
	$(PY) scripts/with_services.py --clock spring-forward -- $(PY) -m pytest $(PYTEST_ARGS)

## bench-classification: titles/s on one core against a plain-regex baseline, and pathological titles
bench-classification: $(VENV)/.installed
	$(PY) -m benchmarks.classification

## bench-reports: month-end report for 10,000 and 100,000 detections, time and peak memory, against COPY
bench-reports: $(VENV)/.installed
	$(PY) scripts/with_services.py -- $(PY) -m benchmarks.reports

## bench-backfill: backfill_members --csv for 50,000 and 200,000 members, rate and peak memory, against COPY
bench-backfill: $(VENV)/.installed
	$(PY) scripts/with_services.py -- $(PY) -m benchmarks.backfill

## bench: end-to-end webhook throughput (granian, Celery, PostgreSQL, Redis, wrk) against baselines
bench: $(VENV)/.installed
	$(PY) scripts/debian.py wrk
	PG_DURABLE=1 $(PY) scripts/with_services.py -- $(PY) -m benchmarks.throughput.run $(BENCH_ARGS)

## bench-cluster: the service as several hosts (network namespaces with CPU quotas): database, broker,
## web hosts behind HAProxy, worker hosts, a load host; four layouts and three faults (needs root)
bench-cluster: $(VENV)/.installed
	$(PY) scripts/debian.py wrk haproxy pgbouncer redis-server ip:iproute2 ss:iproute2
	$(PY) -m benchmarks.cluster.run $(CLUSTER_ARGS)

## bench-digest: Friday's digests for 10,000 pending detections, one audience and twenty
bench-digest: $(VENV)/.installed
	$(PY) scripts/with_services.py -- $(PY) -m benchmarks.digest_build

## bench-hotpath: CPU and SQL statements per webhook (web, worker, database) against the bare view, in one process
bench-hotpath: $(VENV)/.installed
	$(PY) scripts/with_services.py -- $(PY) -m benchmarks.hotpath $(HOTPATH_ARGS)

## faults: the fault scenarios against the real stack (Redis/PostgreSQL outages, killed workers, AA faults)
faults: $(VENV)/.installed
	$(PY) scripts/with_services.py -- $(PY) scripts/faults.py $(FAULTS_ARGS)

## fuzz: the webhook's properties with 5,000 examples each (300 in make test), then schemathesis on the API
fuzz: $(VENV)/.installed
	FUZZ_EXAMPLES=5000 $(PY) scripts/with_services.py -- $(PY) -m pytest tests/detections/test_fuzz.py
	$(PY) scripts/with_services.py -- $(PY) scripts/fuzz_api.py

## audit: known vulnerabilities in the pinned dependencies (pip-audit, in a throwaway virtualenv)
audit:
	$(PYTHON) -m venv /tmp/captpathfinder-audit && /tmp/captpathfinder-audit/bin/pip install --quiet pip-audit==2.10.1
	/tmp/captpathfinder-audit/bin/pip-audit -r requirements.txt -r requirements-dev.txt -r requirements-s3.txt

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: $(VENV)/.installed
	DEBUG=true $(PY) scripts/with_services.py -- $(PY) manage.py makemigrations --check --dry-run

ci: test test-calendar migrations-check lint

clean:
	rm -rf $(VENV) var/postgres var/broker var/media var/outbox var/prometheus
