#!/usr/bin/env bash
# Lay a fresh copy of the collection at DEST (…/ansible_collections/lowmem/hardening).
# ansible-test only runs from a real directory with that name (a symlink is not
# enough), and the checkout itself may live anywhere. The copy holds what git
# would commit: tracked files plus untracked ones that .gitignore does not
# exclude, so work in progress is tested but venvs and build output are not.
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 DEST" >&2
    exit 2
fi
dest=$(realpath -m -- "$1")
case "$dest" in
    */ansible_collections/*/*) ;;
    *)
        echo "$0: DEST must end in ansible_collections/NAMESPACE/NAME, got: $dest" >&2
        exit 2
        ;;
esac

cd "$(git rev-parse --show-toplevel)"
rm -rf -- "$dest"
mkdir -p -- "$dest"
git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' path; do
        # tracked files deleted from the work tree are still listed by git
        if [ -e "$path" ] || [ -L "$path" ]; then
            printf '%s\0' "$path"
        fi
    done \
    | tar --null --no-recursion --files-from=- --create --file=- \
    | tar --extract --file=- --directory="$dest"

# ansible-test lists its targets through the nearest enclosing git repository.
# Without one here that would be the checkout, whose .gitignore hides build/,
# and ansible-test would find no files at all. An empty repository makes it
# list the copy's own files, still honouring the copied .gitignore (so its own
# tests/output/ stays out).
git -C "$dest" init --quiet
