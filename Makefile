# Kiln developer shortcuts (the README's commands are scripts/kiln-dev run|test; run as root).
BOARD ?= qemu-aarch64
export BOARD

.PHONY: deps run test bench clean
deps:
	./scripts/install-deps

run:
	./scripts/kiln-dev run

test:
	./scripts/kiln-dev test

bench: deps
	.venv/bin/python bench/socket_bench.py
	.venv/bin/python bench/boot_bench.py

clean:
	rm -rf build out .stamps sdk/*.egg-info
	find sdk \( -name '*.so' -o -name '*.c' \) -delete

.PHONY: fuzz
# Long fuzz run of the socket core's argument handling (about 10 minutes; root): bench/fuzz_socket.sh
fuzz: deps
	./bench/fuzz_socket.sh $(FUZZ_SECONDS)
