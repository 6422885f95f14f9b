#!/usr/bin/env bash
# CI for the C ABI and the JNI binding. Run from the repository root: bash ffi/ci.sh
# Respects CARGO_TARGET_DIR (default: target). Needs cargo, gcc, valgrind, javac/java 17; rustup for the Android step.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR=$ROOT/$TARGET_DIR ;; esac
export CARGO_TARGET_DIR=$TARGET_DIR
WORK=$(mktemp -d "${TMPDIR:-/tmp}/motiongate-ffi-ci.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
START=$(date +%s)

section() { printf '\n==== %s ====\n' "$*"; }

section "1+2. release build of motiongate-ffi; include/motiongate.h must be fresh"
# ffi/build.rs regenerates the header with cbindgen and, with MOTIONGATE_CHECK_HEADER=1, fails the build when the
# committed include/motiongate.h differs from the fresh one.
MOTIONGATE_CHECK_HEADER=1 cargo build --release -p motiongate-ffi
echo "header OK"
ls -l "$TARGET_DIR/release/libmotiongate_ffi.a" "$TARGET_DIR/release/libmotiongate_ffi.so"
strip --strip-all -o "$WORK/libmotiongate_ffi.stripped.so" "$TARGET_DIR/release/libmotiongate_ffi.so"
X86_A_SIZE=$(stat -c %s "$TARGET_DIR/release/libmotiongate_ffi.a")
X86_SO_SIZE=$(stat -c %s "$WORK/libmotiongate_ffi.stripped.so")

section "3. dependency tree has no desktop-only crates"
cargo tree -p motiongate-ffi -e normal --prefix none > "$WORK/tree.txt"
if grep -E '^(linfa|clap|csv|plotters)[ -]' "$WORK/tree.txt"; then
    echo "FAIL: the FFI crate pulls desktop-only crates (above)" >&2
    exit 1
fi
echo "$(sort -u "$WORK/tree.txt" | wc -l) crates, none of linfa / clap / csv / plotters"

section "4. C flow test (gcc, static library) under valgrind"
gcc -std=c11 -Wall -Wextra -Werror -O1 -g -Iinclude ffi/tests/c/flow.c \
    "$TARGET_DIR/release/libmotiongate_ffi.a" -lpthread -ldl -lm -o "$WORK/flow"
valgrind --leak-check=full --error-exitcode=1 "$WORK/flow" data/hapt_user01_rec1_excerpt.csv

section "5. JNI binding (feature jni) with java -Xcheck:jni"
# Same target dir: only motiongate-ffi is rebuilt (the library's features do not change); this replaces the
# feature-less artefacts of step 2, whose sizes were taken above.
JNI_TARGET=$TARGET_DIR
MOTIONGATE_CHECK_HEADER=1 cargo build --release -p motiongate-ffi --features jni
mkdir -p "$WORK/classes"
javac -Xlint:all -Werror -d "$WORK/classes" ffi/java/src/org/motiongate/*.java ffi/java/test/FlowTest.java
java -Xcheck:jni -Djava.library.path="$JNI_TARGET/release" -cp "$WORK/classes" FlowTest \
    data/hapt_user01_rec1_excerpt.csv 2>&1 | tee "$WORK/java.log"
if grep -q '^WARNING' "$WORK/java.log"; then
    echo "FAIL: -Xcheck:jni warnings (above)" >&2
    exit 1
fi

section "6. Android static library (aarch64-linux-android)"
if ! rustup target add aarch64-linux-android; then
    echo "WARNING: rustup target add aarch64-linux-android failed (offline?); trying with what is installed"
fi
# With the JNI binding, as an Android app links it (this also compiles the JNI code where c_char is u8).
cargo rustc --release -p motiongate-ffi --target aarch64-linux-android --features jni --crate-type staticlib
ANDROID_A=$TARGET_DIR/aarch64-linux-android/release/libmotiongate_ffi.a

section "sizes"
printf '%-50s %10s bytes\n' "aarch64-linux-android staticlib (release, jni)" "$(stat -c %s "$ANDROID_A")"
printf '%-50s %10s bytes\n' "x86_64 staticlib (release, no jni)" "$X86_A_SIZE"
printf '%-50s %10s bytes\n' "x86_64 cdylib (release, no jni, stripped)" "$X86_SO_SIZE"

echo
echo "ffi/ci.sh: all steps passed in $(( $(date +%s) - START )) s"
