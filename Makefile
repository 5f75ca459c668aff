# Makefile: builds, installs and tests contact_identity with PGXS.
#
#   make                  build contact_identity.so
#   make install          install it into the server found by pg_config
#   make unit-tests       build and run the GoogleTest suite of the pure core
#   make installcheck     pg_regress (sql/, expected/) and pg_isolation_regress
#                         (test/specs, test/expected) against a server; add
#                         EXTRA_REGRESS_OPTS=--temp-instance=DIR for a throwaway one
#
# bash test/run does all of it on a fresh machine; see README.md.

EXTENSION = contact_identity
MODULE_big = contact_identity
DATA = contact_identity--0.7.0.sql contact_identity--0.1.0.sql contact_identity--0.1.0--0.2.0.sql contact_identity--0.2.0--0.3.0.sql contact_identity--0.3.0--0.4.0.sql contact_identity--0.4.0--0.5.0.sql contact_identity--0.5.0--0.5.1.sql contact_identity--0.5.1--0.5.2.sql contact_identity--0.5.2--0.6.0.sql contact_identity--0.6.0--0.7.0.sql
PGFILEDESC = "contact_identity - one profile per person"

CORE_SRCS = $(sort $(wildcard src/core/*.cpp))
SHELL_SRCS = $(sort $(wildcard src/pg/*.cpp))
OBJS = $(CORE_SRCS:.cpp=.o) $(SHELL_SRCS:.cpp=.o)

REGRESS = $(basename $(notdir $(sort $(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=.
ISOLATION = $(basename $(notdir $(sort $(wildcard test/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test

# ICU: the Unicode normalization and properties of src/core/unicode.cpp.
ICU_CFLAGS := $(shell pkg-config --cflags icu-uc)
ICU_LIBS := $(shell pkg-config --libs icu-uc)

# -Wextra on top of PostgreSQL's -Wall; its server headers are system headers
# (-isystem wins over PGXS's -I of the same directory), so that only the
# warnings of our own code show. CMakeLists.txt uses the same flags.
PG_CXXFLAGS = -std=c++17 -Isrc -Wextra -isystem $(includedir_server) $(ICU_CFLAGS)
SHLIB_LINK += -lphonenumber -lidn2 $(ICU_LIBS) -lstdc++ -pthread

# PostgreSQL's JIT bitcode rules do not get our C++ flags; we ship no bitcode.
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PostgreSQL's CXXFLAGS were chosen for g++: with clang++ (make CXX=clang++-14)
# drop those it does not know (-Wshadow=compatible-local from PostgreSQL 16),
# as PostgreSQL's configure would.
ifneq ($(findstring clang,$(CXX)),)
override CXXFLAGS := $(filter-out -Wimplicit-fallthrough=% -Wshadow=%,$(CXXFLAGS))
endif

# Headers are not tracked by PGXS; rebuild everything when one changes.
$(OBJS): $(wildcard src/core/*.h) $(wildcard src/pg/*.h)

UNIT_TEST_BIN = test/unit/unit_tests
UNIT_TEST_SRCS = $(sort $(wildcard test/unit/*.cpp))

$(UNIT_TEST_BIN): $(CORE_SRCS) $(UNIT_TEST_SRCS) $(wildcard src/core/*.h)
	$(CXX) -std=c++17 -O1 -g -Wall -Wextra -Isrc $(ICU_CFLAGS) -o $@ $(CORE_SRCS) $(UNIT_TEST_SRCS) \
		-lgtest -lgtest_main -lphonenumber -lidn2 $(ICU_LIBS) -pthread

.PHONY: unit-tests
unit-tests: $(UNIT_TEST_BIN)
	./$(UNIT_TEST_BIN)

EXTRA_CLEAN = $(UNIT_TEST_BIN) results output_iso regression.diffs regression.out tmp_check
