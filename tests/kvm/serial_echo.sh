#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Serial transmit and receive: the echo guest prints READY, then the test
# types a line on casulo's stdin and the guest must print it back. By default
# the guest sleeps in hlt and is woken only by COM1's IRQ 4 through the
# IOAPIC, so this also covers the interrupt path; mode=poll covers plain
# receive (LSR.DR polling) on its own. A 200-character line typed at once
# must arrive whole (casulo holds input while the 16-byte FIFO is full), and
# Ctrl-A Ctrl-A must reach the guest as one literal Ctrl-A.
. "$(dirname "$0")/lib.sh"
kvm_require echo.elf

line="hello casulo 123 !@#"
casulo_start --kernel "$GUESTS/echo.elf"
wait_out READY
send "$line\n"
casulo_wait
expect_rc 0
expect_out "ECHO: $line"
irqs=$(out_value irqs)
[ -n "$irqs" ] && [ "$irqs" -ge 1 ] || fail "expected at least one serial interrupt, guest counted '$irqs'"

casulo_start --kernel "$GUESTS/echo.elf" --cmdline "mode=poll"
wait_out READY
send "polled line\n"
casulo_wait
expect_rc 0
expect_out "ECHO: polled line"
long=$(printf 'x%.0s0123456789' $(seq 1 18))$(printf 'END')
casulo_start --kernel "$GUESTS/echo.elf"
wait_out READY
send "$long\n"
casulo_wait
expect_rc 0
expect_out "ECHO: $long"

casulo_start --kernel "$GUESTS/echo.elf"
wait_out READY
send 'a\001\001b\n'
casulo_wait
expect_rc 0
expect_out "ECHO: a"$'\x01'"b"
echo "ok"
