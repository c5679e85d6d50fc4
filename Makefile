# Kiln developer entry points.  Run as root on Debian 12.
#   make run    install everything, build the qemu-aarch64 image, boot it under QEMU with a tap network
#   make test   install everything, run the whole test suite
BOARD ?= qemu-aarch64
VENV  := .venv/bin

.PHONY: deps run test bench clean
deps:
	./scripts/install-deps

run: deps
	$(VENV)/kiln run --board $(BOARD)

test: deps
	$(VENV)/python -m pytest tests

bench: deps
	$(VENV)/python bench/socket_bench.py

clean:
	rm -rf build out .stamps sdk/*.egg-info
	find sdk -name '*.so' -delete -o -name '*.c' -delete
