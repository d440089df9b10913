#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `casulo run --config FILE`: a JSON file boots the hello guest with the
# settings it holds; an option on the command line overrides the file's
# value wherever --config stands; each bad file (missing, not JSON, unknown
# key, wrong type, bad value) is refused with exit 1 and one line naming the
# file and the problem, before any guest runs.
. "$(dirname "$0")/../kvm/lib.sh"
cli_require
[ -f "$GUESTS/hello.elf" ] || skip "guests not built (make guests)"
k=$GUESTS/hello.elf

# Bad files: one line, exit 1, nothing on stdout.
expect_rejected 1 "^casulo: error: cannot open config '$T/missing.json': No such file" --config "$T/missing.json"
printf '{"kernel": "%s",\n "cpus": 2\n' "$k" >"$T/truncated.json"
expect_rejected 1 "config '$T/truncated.json': not valid JSON: .*line" --config "$T/truncated.json"
printf 'kernel=%s\n' "$k" >"$T/ini.json"
expect_rejected 1 "config '$T/ini.json': not valid JSON" --config "$T/ini.json"
printf '{"kernel": "%s", "vcpus": 2}\n' "$k" >"$T/unknown.json"
expect_rejected 1 "config '$T/unknown.json': unknown key 'vcpus'\$" --config "$T/unknown.json"
printf '{"kernel": "%s", "cpus": "2"}\n' "$k" >"$T/type.json"
expect_rejected 1 "config '$T/type.json': 'cpus' must be a number\$" --config "$T/type.json"
printf '{"kernel": "%s", "memory": "lots"}\n' "$k" >"$T/value.json"
expect_rejected 1 "config '$T/value.json': memory 'lots' is not a size" --config "$T/value.json"
printf '{"kernel": "%s", "disks": [{"path": "%s", "io": "fast"}]}\n' "$k" "$k" >"$T/disk.json"
expect_rejected 1 "config '$T/disk.json': disks\\[0\\]: io must be" --config "$T/disk.json"
printf '{"cpus": 1}\n' >"$T/nokernel.json"
expect_rejected 1 "config '$T/nokernel.json': no \"kernel\"" --config "$T/nokernel.json"
# A value the file accepts but the checks before boot refuse: the same line as for the option.
printf '{"kernel": "%s/nonexistent.elf"}\n' "$T" >"$T/nofile.json"
expect_rejected 1 "kernel '$T/nonexistent.elf'" --config "$T/nofile.json"

kvm_require hello.elf

# The file alone boots the guest with its command line and memory size.
cat >"$T/vm.json" <<JSON
{
  "kernel": "$k",
  "cmdline": "from-file answer=42",
  "memory": "256M",
  "cpus": 1,
  "on-reboot": "exit",
  "log_level": "notice"
}
JSON
casulo_run --config "$T/vm.json"
expect_rc 0
expect_out "hello from casulo guest"
expect_out "cmdline=[from-file answer=42]"
expect_out "e820: addr=0x100000 size=0xff00000 type=1"
expect_out "bye"

# Options override the file whether they come before or after --config;
# what they do not name (here the memory) keeps the file's value.
casulo_run --cmdline "from-flag" --config "$T/vm.json"
expect_rc 0
expect_out "cmdline=[from-flag]"
expect_no_out "from-file"
expect_out "e820: addr=0x100000 size=0xff00000 type=1"
casulo_run --config "$T/vm.json" --memory 128M
expect_rc 0
expect_out "cmdline=[from-file answer=42]"
expect_out "e820: addr=0x100000 size=0x7f00000 type=1"

# The console as an object: output goes to the file, not stdout.
printf '{"kernel": "%s", "cmdline": "to-file", "console": {"file": "%s/console.log"}}\n' "$k" "$T" >"$T/con.json"
casulo_run --config "$T/con.json"
expect_rc 0
expect_no_out "hello from casulo guest"
grep -qF "cmdline=[to-file]" "$T/console.log" || fail "console file lacks the command line: $(head -c 500 "$T/console.log")"
echo "ok"
