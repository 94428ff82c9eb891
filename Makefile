# Thin aliases for ./run, which works without make on a fresh machine.
.PHONY: setup up down test lint bench
setup: ; ./run setup
up: ; ./run up
down: ; ./run down
test: ; ./run test
lint: ; ./run lint
bench: ; ./run bench
