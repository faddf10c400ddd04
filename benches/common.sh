# Sourced by the bench scripts (compare.sh, cpu-split.sh, instructions.sh) for what they all
# start with: the repository's root as the working directory, the target directory as `$target`
# (CARGO_TARGET_DIR respected), a check for the outside programs a script needs, and the release
# build of triage and the two bench programs.

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
target="${CARGO_TARGET_DIR:-$repo/target}"
if [[ "$target" != /* ]]; then target="$repo/$target"; fi

needs() { # "where to get them" tool...
    local hint="$1" tool
    shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "needs $tool ($hint)" >&2; exit 1; }
    done
}

build() {
    echo "== build (release)"
    cargo build --release --quiet --bin triage --example bench-upstream --example bench-yardstick
}
