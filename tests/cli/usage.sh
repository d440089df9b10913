#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Usage mistakes get exit status 2 and a first stderr line naming the
# mistake: an unknown option, an option missing its argument, no --kernel,
# a stray word. --help prints the usage on stdout and exits 0.
. "$(dirname "$0")/../kvm/lib.sh"
cli_require
k=${GUESTS}/hello.elf

expect_rejected 2 "frobnicate" --kernel "$k" --frobnicate
expect_rejected 2 "kernel" --kernel
expect_rejected 2 "memory" --kernel "$k" --memory
expect_rejected 2 "kernel" --cpus 1
expect_rejected 2 "stray-word" --kernel "$k" stray-word

casulo_run --help
expect_rc 0
expect_out "--kernel"
echo "ok"
