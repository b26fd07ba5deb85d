# wgtrain. The two commands a newcomer needs: `make run` and `make test`.
# `make` alone builds build/wgtrain (after `make setup` has installed dependencies).

CC      ?= cc
DAWN_DIR := node_modules/bun-webgpu-linux-x64
WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter
ifeq ($(CI),true)
WARN    += -Werror
endif
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) -Isrc -Ibuild/gen -MMD -MP
# Dawn is opened with dlopen at start (src/cli/dawn_library.c) so that a missing library is a
# clear message, not a loader error. The wgpu* calls stay plain direct calls: declared weak,
# they are linked against Dawn without making it a hard dependency (--as-needed records no
# DT_NEEDED for weak references) and are bound lazily, after the dlopen.
CFLAGS  += -DWGPU_IMPORT="__attribute__((weak))"
LDFLAGS += -Wl,-z,lazy
LDLIBS  := -L$(DAWN_DIR) -Wl,--as-needed -lwebgpu_wrapper -Wl,--no-as-needed \
           -lz -lpng -lmicrohttpd -lnettle -lpthread -ldl -lm

LIB_SRC   := $(wildcard src/gpu/*.c src/core/*.c src/data/*.c src/server/*.c src/util/*.c src/checkpoint/*.c src/image/*.c) \
             $(filter-out src/cli/main.c,$(wildcard src/cli/*.c))
GEN_SRC   := build/gen/kernels_embedded.c build/gen/web_embedded.c
LIB_OBJ   := $(patsubst %.c,build/obj/%.o,$(LIB_SRC)) $(patsubst build/gen/%.c,build/obj/gen/%.o,$(GEN_SRC))
TEST_SRC  := $(wildcard tests/test_*.c)
TEST_BIN  := $(patsubst tests/%.c,build/tests/%,$(TEST_SRC))
KERNELS   := $(wildcard src/kernels/*.wgsl)
WEB_FILES := $(wildcard web/*.html web/*.css web/*.js) $(wildcard node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css)

.PHONY: all run test setup clean check-dawn
all: build/wgtrain $(TEST_BIN)

setup:
	@scripts/setup.sh

run: setup
	@$(MAKE) --no-print-directory build/wgtrain
	./build/wgtrain train

test: setup
	@$(MAKE) --no-print-directory all
	@tests/run.sh

build/tools/embed: tools/embed.c
	@mkdir -p $(@D)
	$(CC) -O2 -std=c11 -Wall -Wextra -o $@ $<

build/gen/kernels_embedded.c: build/tools/embed $(KERNELS)
	@mkdir -p $(@D)
	build/tools/embed kernels $@ $(KERNELS)

build/gen/web_embedded.c: build/tools/embed $(WEB_FILES)
	@mkdir -p $(@D)
	build/tools/embed web $@ $(WEB_FILES)

build/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

build/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

build/libwgtrain.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/wgtrain: build/obj/src/cli/main.o build/libwgtrain.a | check-dawn
	$(CC) $(LDFLAGS) -o $@ build/obj/src/cli/main.o build/libwgtrain.a $(LDLIBS)

build/tests/%: build/obj/tests/%.o build/libwgtrain.a | check-dawn
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

check-dawn:
	@test -f $(DAWN_DIR)/libwebgpu_wrapper.so || { \
	  echo "Dawn is missing ($(DAWN_DIR)/libwebgpu_wrapper.so): run 'make setup' (npm ci installs bun-webgpu-linux-x64@0.1.7)"; exit 1; }

clean:
	rm -rf build

-include $(shell find build/obj -name '*.d' 2>/dev/null)
