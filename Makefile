# Two commands for a fresh Debian machine with only the Rust toolchain:
#   make demo   installs what is missing, builds clmtune and runs the whole workflow on the
#               demo model (scripts/demo.rhai: stages 01-07, a summary; results/ and run.json)
#   make test   runs the test suite (.ci/run runs the same command)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build demo test bench lint

# System libraries: the netCDF C library (with HDF5) from Debian, and pkg-config.
deps:
	@if ! pkg-config --exists netcdf 2>/dev/null; then \
		echo "installing libnetcdf-dev and pkg-config"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libnetcdf-dev pkg-config; \
	fi

build: deps
	cargo build --release

demo: build
	./target/release/clmtune run scripts/demo.rhai

test: deps
	cargo test

bench: build
	./target/release/clmtune bench

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
