# The two commands that matter: `make dev` runs the checkout locally, `make test` proves it.
# Both install what they need first, so they work on a fresh clone.

VENV := functions/venv
PY := $(VENV)/bin/python
PIP_QUIET := --quiet --disable-pip-version-check
PUBSUB_EMULATOR := /usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator

.PHONY: dev test unit e2e lint typecheck install bench clean reconcile catalog

# Fixed ports, each movable by its variable: HOSTING_PORT=5050 make dev (docs/testing.md, "Ports").
dev: install
	$(PY) dev/stack.py dev

# The test stacks choose free ports each time, so they run beside `make dev` and beside each
# other. Two stacks, one after the other: on two cores, side by side would only slow both.
test: install lint typecheck
	$(PY) dev/stack.py test -- $(PY) -m pytest tests --ignore=tests/e2e
	$(PY) dev/stack.py e2e -- $(PY) -m pytest tests/e2e

e2e: install
	$(PY) dev/stack.py e2e -- $(PY) -m pytest tests/e2e

# The inner loop: the unit tests alone, no servers, no lint (15-20 s). `make test` stays the
# whole proof.
unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit

# One reconciler pass against the `make dev` stack (docs/operations.md). Extra options in ARGS,
# e.g. `make reconcile ARGS="--abandon-after 0"`.
reconcile: $(VENV)/.installed
	$(PY) dev/reconcile.py $(ARGS)

# The catalog of the `make dev` stack (docs/catalog.md): `make catalog FILE=catalog.json` imports
# the file (add ARGS=--dry-run to see the changes first); `make catalog` alone prints it.
catalog: $(VENV)/.installed
	$(PY) dev/catalog.py $(if $(FILE),import "$(FILE)",export) $(ARGS)

# lint-imports checks the layers of functions/checkout (pyproject.toml, [tool.importlinter]);
# tsc checks web/app.js against Stripe.js's published types (tsconfig.json); it emits nothing.
lint: $(VENV)/.installed node_modules/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	PYTHONPATH=functions $(VENV)/bin/lint-imports
	node_modules/.bin/tsc -p tsconfig.json

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

# The flash sale runs on a stack of its own, at the shop's default budget of new checkouts
# (the stacks' own budget is high, for test suites): bench/sale.py.
bench: install
	$(PY) dev/stack.py e2e -- $(PY) bench/run.py --skip sale
	NEW_CHECKOUTS_PER_MINUTE=300 $(PY) dev/stack.py e2e -- $(PY) bench/run.py --only sale

install: $(VENV)/.installed node_modules/.installed /usr/bin/chromium $(PUBSUB_EMULATOR)

# One virtual environment, at the path firebase-tools requires, serves the emulator, the
# tests and the tools. The stamp re-runs the install whenever a requirements file changes.
$(VENV)/.installed: requirements.txt functions/requirements.txt
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(PY) -m pip install $(PIP_QUIET) -r requirements.txt 2>&1 | grep -v "^WARNING: Location" || true
	$(PY) -c "import firebase_functions, stripe, google.cloud.firestore, pytest, playwright"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the end-to-end tests (Playwright's own browser download cannot work offline).
/usr/bin/chromium:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# The Cloud SDK's Pub/Sub emulator, from the same apt source as its Firestore emulator: without
# it the Functions emulator ignores the scheduled reconcile_orders (dev/stack.py runs it).
$(PUBSUB_EMULATOR):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq google-cloud-cli-pubsub-emulator

clean:
	rm -rf .run test-artifacts .mypy_cache .ruff_cache .pytest_cache
