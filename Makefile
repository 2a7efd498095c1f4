# rostersync - build, test, demo.
#
#   make              build build/rostersync
#   make check        install missing build packages, then run every test
#   make demo         sync against the bundled fake Okta into build/demo/
#   make SANITIZE=1 check   the same tests with ASan and UBSan (build-san/)
#   make valgrind     the end-to-end tests under valgrind
#   make install      install under PREFIX (/usr/local) and DESTDIR
#   make deb          build a Debian package in build/
#   make man-lint     check the man pages with mandoc
#   make bench        the performance benchmark (docs/benchmarks.md)
#   make fuzz FUZZ_SECONDS=30   build the libFuzzer targets (clang) and run each 30 s
#   make crash CRASH_RUNS=200   kill syncs mid-apply and check the roster (docs/faults.md)
#   make clean

VERSION := 0.1.0
PKGS := libcurl libcjson yaml-0.1 sqlite3 libcrypto

ifeq ($(SANITIZE),1)
BUILD ?= build-san
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD ?= build
SAN_FLAGS :=
endif

CC ?= cc
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wvla -Wformat=2 -Wno-format-nonliteral
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(WARN) -Iinclude -DROSTERSYNC_VERSION='"$(VERSION)"' \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS)
LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
ALL_LDFLAGS := $(LDFLAGS) $(SAN_FLAGS)

AGENT_SRCS := $(wildcard agent/*.c)
AGENT_OBJS := $(patsubst agent/%.c,$(BUILD)/obj/%.o,$(AGENT_SRCS))
LIB_OBJS := $(filter-out $(BUILD)/obj/main.o,$(AGENT_OBJS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
FAKEIDP_SRCS := $(wildcard tests/fakeidp/*.c)

all: $(BUILD)/rostersync

$(BUILD)/obj/%.o: agent/%.c $(wildcard include/*.h agent/*.h) | $(BUILD)/obj
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/librostersync.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/rostersync: $(BUILD)/obj/main.o $(BUILD)/librostersync.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h tests/unit/capture.c tests/unit/capture.h \
		$(BUILD)/librostersync.a | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< tests/unit/capture.c $(BUILD)/librostersync.a \
		$(ALL_LDFLAGS) $(LIBS) $(shell pkg-config --libs cmocka 2>/dev/null)

$(BUILD)/fakeidp: $(FAKEIDP_SRCS) $(wildcard tests/fakeidp/*.h) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -Itests/fakeidp -o $@ $(FAKEIDP_SRCS) $(ALL_LDFLAGS) \
		$(shell pkg-config --cflags --libs libmicrohttpd libcjson libcrypto 2>/dev/null) -lm

BENCH_TOOLS := $(BUILD)/bench/measure $(BUILD)/bench/floor

$(BUILD)/bench/measure: tests/bench/measure.c | $(BUILD)/bench
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS)

$(BUILD)/bench/floor: tests/bench/floor.c | $(BUILD)/bench
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS) $(LIBS)

$(BUILD) $(BUILD)/obj $(BUILD)/tests $(BUILD)/bench:
	mkdir -p $@

deps:
	scripts/install-deps

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

e2e: $(BUILD)/rostersync $(BUILD)/fakeidp
	BUILD=$(BUILD) tests/e2e/run.sh

check: deps
	$(MAKE) unit e2e

valgrind: deps
	$(MAKE) $(BUILD)/rostersync $(BUILD)/fakeidp
	BUILD=$(BUILD) RS_WRAPPER="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect" tests/e2e/run.sh

bench: deps
	$(MAKE) $(BUILD)/rostersync $(BUILD)/fakeidp $(BENCH_TOOLS)
	BUILD=$(BUILD) tests/bench/bench.sh

demo: deps
	$(MAKE) $(BUILD)/rostersync $(BUILD)/fakeidp
	BUILD=$(BUILD) scripts/demo

clean:
	rm -rf build build-san

.PHONY: all deps unit e2e check valgrind bench demo clean

FUZZ_SECONDS ?= 60

fuzz:
	tests/fuzz/run.sh $(FUZZ_SECONDS)

crash: $(BUILD)/rostersync $(BUILD)/fakeidp
	BUILD=$(BUILD) CRASH_RUNS=$(CRASH_RUNS) tests/e2e/run.sh test_crash_

.PHONY: fuzz crash

# Installation: PREFIX and DESTDIR as usual.  With the default PREFIX the
# units go to /usr/local/lib/systemd/system, which systemd also reads.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/rostersync
UNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL ?= install

install: $(BUILD)/rostersync
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples
	$(INSTALL) -m 0755 $(BUILD)/rostersync $(DESTDIR)$(BINDIR)/rostersync
	$(INSTALL) -m 0644 packaging/rostersync.8 $(DESTDIR)$(MANDIR)/man8/rostersync.8
	$(INSTALL) -m 0644 packaging/rostersync.yaml.5 $(DESTDIR)$(MANDIR)/man5/rostersync.yaml.5
	sed 's|/usr/bin/rostersync|$(BINDIR)/rostersync|' packaging/rostersync@.service \
		> $(DESTDIR)$(UNITDIR)/rostersync@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/rostersync@.service
	$(INSTALL) -m 0644 packaging/rostersync@.timer $(DESTDIR)$(UNITDIR)/rostersync@.timer
	$(INSTALL) -m 0644 config/okta.example.yaml config/graph.example.yaml \
		packaging/rostersync.cron.d $(DESTDIR)$(DOCDIR)/examples/

# build/rostersync_VERSION-1_ARCH.deb, built with dpkg-buildflags (needs dpkg-dev).
deb:
	packaging/build-deb $(VERSION) $(BUILD)

man-lint:
	mandoc -T lint -W warning packaging/rostersync.8 packaging/rostersync.yaml.5

.PHONY: install deb man-lint
