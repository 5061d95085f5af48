# Two commands do everything on a fresh machine:
#   make demo   create .venv, install evstream, run the main job on recordings/
#   make test   install evstream with its dev extras and run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# The CPU wheel of torch; a bare `torch` would pull a multi-GB CUDA build.
TORCH  ?= torch==2.13.0

.PHONY: demo test install install-dev bench fuzz clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install "$(TORCH)"
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install -e ".[dev,viz,hdf5]"
	# spikingjelly declares torchvision/torchaudio, which would swap torch for a CUDA build
	$(PIP) install --no-deps spikingjelly
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(VENV)/bin/evstream gesture recordings/gestures.aedat4 --headless

test: install-dev
	$(PY) -m pytest -q

bench: install-dev
	$(VENV)/bin/evstream bench all

# Fuzz every reader and the ZeroMQ decoder for FUZZ_MINUTES minutes each; findings in tests/fuzz/findings
FUZZ_MINUTES ?= 1
fuzz: install-dev
	nice -n 10 $(PY) -m tests.fuzz.campaign --minutes $(FUZZ_MINUTES)

clean:
	rm -rf $(VENV) build *.egg-info
