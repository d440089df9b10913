#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fetch-debs.sh PKG... : download Debian packages into a cache directory
# (default out/debs, or $CASULO_DEB_CACHE) with `apt-get download`, without
# installing anything, and print the path of each .deb, one per line, in the
# order asked. A kernel meta package (linux-image-amd64, linux-image-cloud-amd64)
# is resolved to the concrete kernel package it depends on, because only that
# one carries the kernel and its modules. Already cached versions are reused,
# so a rerun does no network I/O. Empty apt lists trigger one `apt-get update`
# (as root). Exit status 1 when a package cannot be had: callers decide whether
# that is a skip or a failure.
set -euo pipefail

die() { echo "fetch-debs: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: $0 PKG..."

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${CASULO_DEB_CACHE:-$REPO/out/debs}
mkdir -p "$CACHE"
for t in apt-get apt-cache; do
    command -v "$t" >/dev/null || die "missing host tool $t (not a Debian-based host?)"
done
# apt-get download as root would try to drop to the _apt user, which may not
# write to the cache directory.
APT_OPTS=(-q -o APT::Sandbox::User=root)

candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }'; }

lists_updated=0
update_lists_once() {  # returns 1 when there is nothing left to try
    [ $lists_updated = 0 ] && [ "$(id -u)" = 0 ] || return 1
    echo "fetch-debs: apt lists lack $1, running apt-get update once" >&2
    apt-get -q update >&2 || true
    lists_updated=1
}

resolve() {  # meta package -> concrete linux-image-<version> package
    local pkg=$1 dep
    case $pkg in
    linux-image-[a-z]*)
        dep=$(apt-cache depends "$pkg" 2>/dev/null |
              awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
        echo "${dep:-$pkg}" ;;
    *) echo "$pkg" ;;
    esac
}

for want in "$@"; do
    while :; do
        pkg=$(resolve "$want")
        ver=$(candidate "$pkg")
        if [ -n "$ver" ] && [ "$ver" != "(none)" ]; then break; fi
        update_lists_once "$want" || die "no installable candidate for $want (apt-get update?)"
    done
    # apt-get download writes pkg_ver_arch.deb with ':' escaped as %3a
    pattern="${pkg}_${ver//:/%3a}_*.deb"
    deb=$(find "$CACHE" -maxdepth 1 -name "$pattern" -print -quit)
    if [ -z "$deb" ]; then
        (cd "$CACHE" && apt-get "${APT_OPTS[@]}" download "$pkg" >&2) ||
            die "apt-get download $pkg failed"
        deb=$(find "$CACHE" -maxdepth 1 -name "$pattern" -print -quit)
        [ -n "$deb" ] || die "apt-get download $pkg left no $pattern"
    fi
    echo "$deb"
done
