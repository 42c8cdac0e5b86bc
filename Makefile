# Parley: the two commands a new user needs are `make run` and `make test`.
GO ?= go

.PHONY: run test deps build bench check typecheck vet fuzz clean

## run: start Parley on embedded defaults at http://localhost:8080
run:
	$(GO) run . serve

## build: build the parley binary
build:
	$(GO) build -o parley .

## test: install missing test dependencies, then run every test (Go, real
## Redis, real pion peers, real headless Chromium) in a loopback-only namespace
test: deps check
	scripts/test.sh

deps:
	scripts/test-deps.sh

## check: formatting, vet and the JavaScript type check
check: vet typecheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')); \
	if [ -n "$$out" ]; then echo "gofmt wants to change: $$out"; exit 1; fi

vet:
	$(GO) vet ./...

typecheck:
	node_modules/.bin/tsc -p tsconfig.json

## fuzz: run each fuzzer for a while (FUZZTIME, default 60s each): the
## signaling decoder, the pen-data decoder, the envelope parser, PDF intake
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeClientMessage$$' -fuzztime $(FUZZTIME) ./signaling/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCapture$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./signature/
	$(GO) test -run '^$$' -fuzz '^FuzzParseEnvelope$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./signature/
	$(GO) test -run '^$$' -fuzz '^FuzzLoadPDF$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./signature/

## bench: Go benchmarks and the load generator in a loopback-only namespace,
## every figure beside a floor measured in the same run; prints one table
## and writes it to docs/BENCHMARKS.md; also measures an older revision's
## server (BENCH_BASELINE, default b045324; none: skip) (12–15 minutes on 2 cores)
bench:
	@scripts/bench.sh

clean:
	rm -f parley
