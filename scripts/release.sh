#!/usr/bin/env bash
# Build the release archives of nbreg from this checkout: for each target a
# static, CGO-free binary packed with README.md, COPYING and the manual
# pages (.tar.gz, or .zip for Windows), and SHA256SUMS over the archives.
#
#   scripts/release.sh [-o DIR] [-t GOOS/GOARCH]... VERSION
#
#   VERSION  what nbreg version will print, e.g. v1.2.0
#   -o DIR   where the archives go (default: dist/VERSION)
#   -t       one target; give it again for more (default: linux, darwin
#            and windows, each on amd64 and arm64)
#
# The binaries also record the commit they were built from and its date, and
# whether the work tree had uncommitted changes (a warning says so). The
# files in the archives carry the commit's time, so that the same commit
# packs into the same archives.
set -euo pipefail

usage() {
    sed -n '/^#   scripts/,/^#            and/s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

out=
targets=()
while getopts "o:t:h" opt; do
    case $opt in
    o) out=$OPTARG ;;
    t) targets+=("$OPTARG") ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
version=$1
if ! [[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
    echo "release: VERSION must look like v1.2.0 or v1.2.0-rc.1, not \"$version\"" >&2
    exit 2
fi
[ ${#targets[@]} -gt 0 ] ||
    targets=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64)

# Relative paths are taken from where the script was called.
out=$(mkdir -p "${out:-dist/$version}" && cd "${out:-dist/$version}" && pwd)
cd "$(dirname "$0")/.."
root=$(pwd)

epoch=$(git log -1 --format=%ct 2>/dev/null || date +%s)
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then
    echo "release: warning: the work tree has uncommitted changes; the binaries will say so" >&2
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

archives=()
for target in "${targets[@]}"; do
    goos=${target%/*} goarch=${target#*/}
    if [ "$goos/$goarch" != "$target" ] || [ -z "$goos" ] || [ -z "$goarch" ]; then
        echo "release: a target is GOOS/GOARCH, e.g. linux/amd64, not \"$target\"" >&2
        exit 2
    fi
    name=nbreg-$version-$goos-$goarch
    dir=$stage/$name
    exe=nbreg
    [ "$goos" = windows ] && exe=nbreg.exe
    mkdir -p "$dir/man"
    echo "release: building $name" >&2
    # -buildvcs=auto: record the commit even where GOFLAGS turns it off.
    CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -buildvcs=auto -trimpath \
        -ldflags "-s -w -X nbreg/cmd.Version=$version" -o "$dir/$exe" "$root"
    cp "$root/README.md" "$root/COPYING" "$dir/"
    cp "$root"/docs/man/*.1 "$dir/man/"
    find "$dir" -exec touch -h -d "@$epoch" {} +
    if [ "$goos" = windows ]; then
        rm -f "$out/$name.zip"
        (cd "$stage" && find "$name" -print | LC_ALL=C sort | zip -q -X -@ "$out/$name.zip")
        archives+=("$name.zip")
    else
        tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner -cf - "$name" |
            gzip -n -9 >"$out/$name.tar.gz"
        archives+=("$name.tar.gz")
    fi
done

(cd "$out" && sha256sum -- "${archives[@]}" >SHA256SUMS)
echo "release: wrote ${#archives[@]} archives and SHA256SUMS to $out" >&2
