# Everything runs from the project folder inside .venv. `make demo` and `make test` are the
# README's two quickstart commands.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHROMIUM ?= /usr/bin/chromium
# Offline by default: the packaged MiniLM and ../shared/data need no network.
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
SPAM_DATA := ../shared/data/sms_spam/spamdata_v2.csv
TOPIC_DATA := ../shared/data/gnews/GoogleNews.txt

.PHONY: setup demo models test lint bench chromium

$(BIN)/activate: requirements.txt requirements-space.txt requirements-dev.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(BIN)/activate

setup: $(BIN)/activate  ## virtual environment with every requirement

models/spam/config.json: | setup
	$(BIN)/python -m train classify --dataset $(SPAM_DATA) --label-names ham,spam --task spam --epochs 1

models/topics/config.json: | setup
	$(BIN)/python -m train topics --dataset $(TOPIC_DATA)

# Quick models for the demo; with Hub access, SPAM_MODEL/TOPIC_MODEL=<repo id> pull instead.
models: models/spam/config.json models/topics/config.json

demo: setup  ## set up, train both models if missing (offline), serve the app
	@if [ -z "$$SPAM_MODEL$$TOPIC_MODEL" ]; then $(MAKE) models; fi
	$(BIN)/python app.py

chromium:  ## Debian's Chromium for the browser tests (Playwright never downloads one)
	@test -x $(CHROMIUM) || (apt-get update -q && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q chromium chromium-driver)

lint: setup  ## linter, formatter check and type checker (the pre-commit hooks run the same)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/python -m mypy

test: setup chromium lint  ## lint, then the whole test suite, offline with throw-away caches
	tmp=$$(mktemp -d) && HF_HOME=$$tmp/hf MPLCONFIGDIR=$$tmp/mpl CHROMIUM=$(CHROMIUM) \
		$(BIN)/python -m pytest -q; status=$$?; rm -rf $$tmp; exit $$status

bench: setup models  ## the benchmarks (minutes each); results land in bench/results/
	$(BIN)/python bench/spam.py
	$(BIN)/python bench/spam.py --name training_levers --no-baselines --only teacher \
	    --work-dir /tmp/bench-levers --variant freeze2='--freeze-layers 2' \
	    --variant batch64='--batch-size 64 --lr 2e-4' --variant epochs1='--epochs 1 --lr 2e-4'
	$(BIN)/python bench/training_steps.py
	$(BIN)/python bench/topics.py
	$(BIN)/python bench/app_load.py
	$(BIN)/python bench/batch_scoring.py
