#!/usr/bin/env bash
# scripts/release.sh: build a Stevedore release into OUT (default dist/).
#
# The one place the release is made: `make release` runs it, and so does
# internal/release's test (twice, from two clones in different directories,
# comparing every byte). Two runs on the same commit give the same files and
# the same SHA256SUMS, wherever the checkout is. See docs/install.md.
#
# Environment (all optional):
#   OUT                where to write (default: dist); emptied first
#   ARCHES             GOARCHes to build (default: "amd64 arm64")
#   CMDS               commands under cmd/ to build (default: the four shipped)
#   TOOLS_DIR          where the pinned SBOM generator is installed (default: .tools)
#   SOURCE_DATE_EPOCH  timestamp of every archived file (default: HEAD's commit time)
#   GO                 the go command (default: go)
# With the argument "tools", only install the SBOM generator.
set -euo pipefail

umask 022
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-dist}
ARCHES=${ARCHES:-amd64 arm64}
CMDS=${CMDS:-ctl reconciler agent stevedore-log-driver}
TOOLS_DIR=${TOOLS_DIR:-$ROOT/.tools}
GO=${GO:-go}
# CycloneDX's own Go SBOM generator, pinned. `bin` mode reads the module list
# Go embedded in each binary, so the SBOM lists exactly what was linked.
CYCLONEDX_GOMOD_VERSION=v1.10.0

die() { echo "release: $*" >&2; exit 1; }

git rev-parse --verify -q HEAD >/dev/null || die "not in a Git checkout with a commit"
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
case $TOOLS_DIR in /*) ;; *) TOOLS_DIR=$ROOT/$TOOLS_DIR ;; esac
[ "$OUT" != / ] && [ "$OUT" != "$ROOT" ] && [ "$OUT" != "$ROOT/" ] || die "OUT=$OUT would remove the checkout"

# Go records no VCS information in a linked worktree (its .git is a file,
# and cmd/go looks for a .git directory), so the binaries would carry no
# version. A clean worktree is built from a clone of its HEAD instead: the
# same commit, the same bytes; a modified one is refused.
if [ -f .git ] && [ "${1:-}" != tools ]; then
	[ -z "$(git status --porcelain)" ] ||
		die "this linked worktree has changes, and Go stamps no version in a linked worktree: commit them, or run make release in a clone"
	src=$(mktemp -d)
	trap 'rm -rf "$src"' EXIT
	echo "release: a linked worktree: building a clone of HEAD ($(git rev-parse --short HEAD)) in $src"
	git clone -q --no-checkout "$ROOT" "$src/stevedore"
	git -C "$src/stevedore" checkout -q --detach "$(git rev-parse HEAD)"
	OUT=$OUT TOOLS_DIR=$TOOLS_DIR "$src/stevedore/scripts/release.sh"
	exit
fi
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct HEAD)}
export SOURCE_DATE_EPOCH

# The toolchain is the one go.mod names (its toolchain line, else its go
# line), exactly: GOTOOLCHAIN=auto would let a newer local Go build instead.
gover=$(awk '$1 == "toolchain" { print $2; exit }' go.mod)
[ -n "$gover" ] || gover=go$(awk '$1 == "go" { print $2; exit }' go.mod)
export GOTOOLCHAIN=$gover

# Everything that changes the bytes of a binary is fixed here, whatever the
# caller's environment or `go env -w` file says.
export CGO_ENABLED=0 GOOS=linux GOAMD64=v1 GOARM64=v8.0 GOEXPERIMENT=
export GOFLAGS="-trimpath -buildvcs=true -mod=readonly"
unset GOARCH GO386 GOARM GOMIPS GOPPC64 GORISCV64 GOWASM CGO_CFLAGS CGO_LDFLAGS GZIP TAR_OPTIONS

[ "$($GO env GOVERSION)" = "$gover" ] || die "go env GOVERSION is $($GO env GOVERSION), go.mod asks for $gover"

# The pinned SBOM generator, built once into TOOLS_DIR (by the same toolchain).
cdx=$TOOLS_DIR/cyclonedx-gomod-$CYCLONEDX_GOMOD_VERSION/cyclonedx-gomod
if [ ! -x "$cdx" ]; then
	echo "release: installing cyclonedx-gomod $CYCLONEDX_GOMOD_VERSION into $TOOLS_DIR"
	GOFLAGS= GOBIN=$(dirname "$cdx") $GO install \
		"github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$CYCLONEDX_GOMOD_VERSION"
fi

# `release.sh tools` (make tools) only installs the generator: the test
# needs it in the module cache, and reaches no network itself.
[ "${1:-}" != tools ] || { "$cdx" version; exit; }

rm -rf "$OUT"
# Every binary is built before anything is written into OUT, and into a
# directory outside the checkout: files appearing in the tree during the
# build (an OUT that .gitignore does not cover) would stamp it "+dirty".
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

version=""
for arch in $ARCHES; do
	echo "release: building linux/$arch: $CMDS"
	pkgs=()
	for c in $CMDS; do pkgs+=("./cmd/$c"); done
	# -buildid= leaves no build ID (a hash that includes the action's
	# inputs) in the binary; -trimpath (GOFLAGS) leaves no build path.
	GOARCH=$arch $GO build -ldflags=-buildid= -o "$stage/$arch/" "${pkgs[@]}"

	# The release's name is the version Go stamped into the binaries: the
	# tag at HEAD, else a pseudo-version, "+dirty" for a modified tree.
	v=$($GO version -m "$stage/$arch/${CMDS%% *}" | awk '$1 == "mod" { print $3; exit }')
	[ -n "$v" ] && [ "$v" != "(devel)" ] || die "the binaries carry no module version (no VCS information?)"
	[ -z "$version" ] || [ "$version" = "$v" ] || die "linux/$arch was stamped $v, another arch $version"
	version=$v
done

# A UUID derived from bytes (RFC 9562 version 8): the SBOM's serial number is
# then the same for the same binary and differs between binaries, where a
# random one would differ on every run.
uuid_of() {
	local h
	h=$(sha256sum "$1" | cut -c1-32)
	printf '%s-%s-8%s-%x%s-%s\n' "${h:0:8}" "${h:8:4}" "${h:13:3}" $(((0x${h:16:1} & 3) | 8)) "${h:17:3}" "${h:20:12}"
}

mkdir -p "$OUT"
for arch in $ARCHES; do
	name=stevedore_${version}_linux_$arch
	dir=$OUT/$name
	mkdir -p "$dir/sbom" "$dir/systemd"
	for c in $CMDS; do
		install -m 0755 "$stage/$arch/$c" "$dir/$c"
		# GOPROXY=off: the SBOM is made from the module cache the build just
		# used, never from what a proxy answers today. -licenses reads each
		# module's license there; the main module's own is LICENSE, shipped.
		# bin mode takes the platform of the purls from GOOS/GOARCH, not from
		# the binary's build info.
		GOARCH=$arch GOPROXY=off GOFLAGS= "$cdx" bin -json -std -licenses -notimestamp \
			-serial "urn:uuid:$(uuid_of "$dir/$c")" -version "$version" \
			-output "$dir/sbom/$c.cdx.json" "$dir/$c" 2>"$stage/cdx.log" ||
			{ cat "$stage/cdx.log" >&2; die "failed to write the SBOM of $c"; }
	done
	install -m 0644 deploy/systemd/*.service deploy/systemd/*.env "$dir/systemd/"
	install -m 0644 LICENSE "$dir/LICENSE"

	find "$dir" -type d -exec chmod 0755 {} +
	# A deterministic archive: sorted names, one timestamp, owner root,
	# modes as installed, and gzip without the file's name and time.
	tar -C "$OUT" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
		--format=gnu -cf - "$name" | gzip -n -9 >"$OUT/$name.tar.gz"
done

mkdir -p "$OUT/systemd"
install -m 0644 deploy/systemd/*.service deploy/systemd/*.env "$OUT/systemd/"
rm -rf "$stage"
trap - EXIT

(cd "$OUT" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum >SHA256SUMS)
echo "release: $OUT: stevedore $version ($(wc -l <"$OUT/SHA256SUMS") files in SHA256SUMS)"
