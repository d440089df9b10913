#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/startup.sh [-n RUNS]: process start -> exit for a tiny guest that
# prints one line and leaves at once, casulo side by side with QEMU
# (-M microvm and -M pc, KVM, same memory size) in one interleaved loop.
# Prints median/min/max wall time, median peak RSS, and casulo's ratios.
# Performance lives here, never in tests: nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=20
MEM=256
while getopts "n:m:" o; do
    case $o in n) RUNS=$OPTARG ;; m) MEM=$OPTARG ;; *) echo "usage: $0 [-n RUNS] [-m MIB]" >&2; exit 2 ;; esac
done
BUILD=${BUILD:-build}
OUT=$BUILD/bench
mkdir -p "$OUT"
CASULO=$BUILD/casulo
GUEST=$BUILD/guest/oneline.elf
[ -x "$CASULO" ] && [ -f "$GUEST" ] || make -s "$CASULO" guests
cc -O2 -o "$OUT/timeit" bench/timeit.c
as --32 -o "$OUT/tiny-bios.o" bench/tiny-bios.S
ld -m elf_i386 -Ttext 0 --oformat binary -o "$OUT/tiny-bios.bin" "$OUT/tiny-bios.o"

QEMU=$(command -v qemu-system-x86_64 || true)
QEMU_CPU=host
# On KVM-PVM hosts QEMU's -cpu host aborts setting MSR_IA32_ARCH_CAPABILITIES.
[ -d /sys/module/kvm_pvm ] && QEMU_CPU=host,-arch-capabilities
QEMU_COMMON=(-enable-kvm -cpu "$QEMU_CPU" -m "$MEM" -nodefaults -no-user-config -display none
             -serial stdio -no-reboot -bios "$OUT/tiny-bios.bin")

declare -A CMD
CMD[casulo]="$CASULO run --kernel $GUEST --memory ${MEM}M --console stdio"
NAMES=(casulo)
if [ -n "$QEMU" ]; then
    CMD[qemu-microvm]="$QEMU -M microvm ${QEMU_COMMON[*]} -device isa-debug-exit,iobase=0xf4,iosize=0x04"
    CMD[qemu-pc]="$QEMU -M pc ${QEMU_COMMON[*]}"
    NAMES+=(qemu-microvm qemu-pc)
else
    echo "note: qemu-system-x86_64 not found; measuring casulo alone" >&2
fi

RES=$OUT/startup.tsv
: > "$RES"
for ((i = 0; i < RUNS; i++)); do
    for name in "${NAMES[@]}"; do
        # shellcheck disable=SC2086
        line=$("$OUT/timeit" ${CMD[$name]} 3>&1 >"$OUT/$name.out" 2>"$OUT/$name.err")
        grep -q -E 'CASULO-GUEST-READY|BENCH-GUEST-READY' "$OUT/$name.out" || { echo "$name printed no ready line:" >&2; cat "$OUT/$name.out" "$OUT/$name.err" >&2; exit 1; }
        echo "$name $line" >> "$RES"
    done
done

# Guest pages casulo touched in one run, to report RSS beyond them.
# shellcheck disable=SC2086
touched=$(${CMD[casulo]} --log-level info 2>&1 >/dev/null | sed -n 's/.*guest RAM touched: \([0-9]*\) KiB.*/\1/p')

echo "startup: tiny guest, process start -> exit, ${MEM} MiB, $RUNS interleaved runs"
printf '%-14s %9s %9s %9s %12s\n' vmm median_ms min_ms max_ms peak_rss_MiB
for name in "${NAMES[@]}"; do
    awk -v n="$name" '$1 == n { print $2 / 1000, $3 / 1024 }' "$RES" | sort -n > "$OUT/$name.sorted"
    med=$(awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}' "$OUT/$name.sorted")
    min=$(head -n1 "$OUT/$name.sorted" | cut -d' ' -f1)
    max=$(tail -n1 "$OUT/$name.sorted" | cut -d' ' -f1)
    rss=$(cut -d' ' -f2 "$OUT/$name.sorted" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    printf '%-14s %9.2f %9.2f %9.2f %12.1f\n' "$name" "$med" "$min" "$max" "$rss"
    eval "MED_${name//-/_}=$med; RSS_${name//-/_}=$rss"
done
echo "casulo peak RSS beyond guest pages touched (${touched:-?} KiB): $(awk -v r="$RSS_casulo" -v t="${touched:-0}" 'BEGIN{printf "%.2f", r - t/1024}') MiB"
if [ -n "$QEMU" ]; then
    awk -v c="$MED_casulo" -v m="$MED_qemu_microvm" -v p="$MED_qemu_pc" \
        'BEGIN { printf "ratio casulo/qemu-microvm: %.3f   casulo/qemu-pc: %.3f\n", c/m, c/p }'
fi
